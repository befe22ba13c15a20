"""Merge's statements, every dialect: they parse, identifiers stay quoted, no value is inlined."""

from __future__ import annotations

import dataclasses

import pytest
import sqlglot
from sqlglot.tokens import TokenType

from loader.coltypes import Column, ColumnType
from loader.targets.base import PublishPlan
from loader.targets.sql import merge, mssql, postgres, sqlite
from loader.targets.sql.merge import ROW, index_name

from .test_sql import HOSTILE

DIALECTS = [(sqlite.PUBLISH.merge, "sqlite"), (postgres.PUBLISH.merge, "postgres"), (mssql.PUBLISH.merge, "tsql")]


def plan(name: str, keys: tuple[str, ...] = ("id",), delete_missing: bool = False) -> PublishPlan:
    cols = tuple(Column(n, ColumnType("bigint")) for n in ("id", name, "day"))
    return PublishPlan("merge", "ref", "bkp", "stage", name, name + "_s", cols, 3, name + "_b", keys=keys,
                       delete_missing=delete_missing)


@pytest.mark.parametrize("dialect, read", DIALECTS)
@pytest.mark.parametrize("name", HOSTILE)
@pytest.mark.parametrize("keys", [("id",), ("id", "day")])
def test_every_merge_statement_parses(dialect, read, name, keys):
    texts = merge.all_statements(dialect, plan(name, keys))
    assert len(texts) >= 12
    for text in texts:
        parsed = sqlglot.parse(text, read=read, error_level=sqlglot.ErrorLevel.RAISE)
        assert len(parsed) == 1 and parsed[0] is not None, text
        tokens = sqlglot.tokenize(text, read=read)
        assert TokenType.SEMICOLON not in {t.token_type for t in tokens}, text
        literals = [t.text for t in tokens if t.token_type == TokenType.STRING]
        assert literals in ([], ["index"]), text  # names and values travel as parameters


@pytest.mark.parametrize("dialect, read", DIALECTS[:2])
def test_the_upsert_updates_only_rows_that_differ_and_never_the_key(dialect, read):
    text = merge.upsert(dialect, plan("t", ("id", "day")))
    assert 'ON CONFLICT ("id", "day") DO UPDATE SET "t" = excluded."t"' in text
    assert '"id" = excluded' not in text and '"day" = excluded' not in text
    assert "IS NOT" in text if read == "sqlite" else "IS DISTINCT FROM" in text
    only_keys = dataclasses.replace(plan("t"), columns=(Column("id", ColumnType("bigint")),))
    assert merge.upsert(dialect, only_keys).endswith("DO NOTHING")


def test_sql_server_locks_the_table_for_the_whole_merge_and_compares_nulls_as_equal():
    d = mssql.PUBLISH.merge
    update = merge.update(d, plan("t"))
    assert update is not None and "WITH (TABLOCKX)" in update and "EXCEPT SELECT" in update
    assert merge.insert_new(d, plan("t")).startswith("INSERT INTO [ref].[t]")
    assert merge.delete_missing(d, plan("t")).startswith("DELETE s FROM [ref].[t] AS s")


def test_staging_row_number_is_never_published():
    for dialect, _ in DIALECTS:
        for text in (merge.create_ref(dialect, plan("t")), merge.upsert(dialect, plan("t")),
                     merge.insert_new(dialect, plan("t"))):
            assert ROW not in text


def test_the_index_name_is_short_stable_and_names_the_keys():
    long = "x" * 120
    assert len(index_name(long, ["id"])) <= 63
    assert index_name("t", ["id"]) == index_name("t", ["id"]) != index_name("t", ["id", "day"])


@pytest.mark.parametrize("module, read", [(sqlite, "sqlite"), (postgres, "postgres"), (mssql, "tsql")])
@pytest.mark.parametrize("name", HOSTILE)
def test_add_column_parses_and_is_nullable(module, read, name):
    text = module.add_column_sql("ref", name, Column(name, ColumnType("decimal", 18, 2)))
    parsed = sqlglot.parse(text, read=read, error_level=sqlglot.ErrorLevel.RAISE)
    assert len(parsed) == 1 and "NOT NULL" not in text.upper()
