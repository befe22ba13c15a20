"""Generated SQL parses, and hostile identifiers stay inside one quoted identifier.

Also the pure naming helpers for backup and staging tables in loader/targets/base.py.
"""

from __future__ import annotations

import pytest
import sqlglot
from sqlglot import exp
from sqlglot.tokens import TokenType

from loader.coltypes import Column, ColumnType
from loader.naming import MAX_IDENTIFIER_BYTES
from loader.targets.base import PublishPlan, backup_name, backups_to_drop, free_backup_name, stage_name
from loader.targets.sql import postgres as pg
from loader.targets.sql import sqlite as sl
from loader.track import TRACKING_COLUMNS

HOSTILE = [
    "plain",
    'x"; DROP TABLE ref.t; --',
    'a""b',
    "東京",
    "it's",
    "semi;colon",
    "/* c */ x",
    "brack]`et",
    "new\nline",
]


def statements(sql: str, dialect: str) -> list[exp.Expression]:
    parsed = sqlglot.parse(sql, read=dialect)
    assert len(parsed) == 1, sql
    return parsed


def quoted_identifiers(sql: str, dialect: str) -> list[str]:
    """Identifier tokens in order, after unquoting; refuses any statement separator."""
    tokens = sqlglot.tokenize(sql, read=dialect)
    assert TokenType.SEMICOLON not in {t.token_type for t in tokens}, sql
    return [t.text for t in tokens if t.token_type == TokenType.IDENTIFIER]


def columns(names: list[str]) -> list[Column]:
    return [Column(n, ColumnType("bigint")) for n in names]


def plan(table: str, stage: str, cols: list[str]) -> PublishPlan:
    """The first column is widened (widen_types) so the rebuild and ALTER statements are parsed too."""
    retype = ((Column(cols[0], ColumnType("decimal", 21, 2)), ColumnType("bigint")),)
    return PublishPlan("fullload", "ref", "bkp", "stage", table, stage, tuple(columns(cols)), 3, table + "_bkp",
                       retype=retype)


# -- CREATE TABLE --------------------------------------------------------------------------

@pytest.mark.parametrize("module, dialect", [(pg, "postgres"), (sl, "sqlite")])
@pytest.mark.parametrize("name", HOSTILE)
def test_create_table_keeps_identifiers_whole(module, dialect, name):
    cols = [name, name + "_2", "id"]
    sql = module.create_table_sql("ref", name, columns(cols))
    [create] = statements(sql, dialect)
    assert isinstance(create, exp.Create)
    table = create.find(exp.Table)
    assert (table.db, table.name) == ("ref", name)
    assert [c.name for c in create.find_all(exp.ColumnDef)] == cols
    assert quoted_identifiers(sql, dialect) == ["ref", name, *cols]


ALL_TYPES = [Column("b", ColumnType("boolean")), Column("i", ColumnType("bigint")),
             Column("d", ColumnType("decimal", 18, 4)), Column("f", ColumnType("float")),
             Column("dt", ColumnType("date")), Column("ts", ColumnType("timestamp")), Column("t", ColumnType("text"))]


def test_postgres_column_types():
    assert pg.create_table_sql("ref", "t", ALL_TYPES) == (
        'CREATE TABLE "ref"."t" ("b" boolean, "i" bigint, "d" numeric(18,4), "f" double precision, '
        '"dt" date, "ts" timestamp, "t" text)')
    statements(pg.create_table_sql("ref", "t", ALL_TYPES), "postgres")


def test_sqlite_column_types():
    # decimals are declared with TEXT in the name: TEXT affinity keeps every digit
    assert sl.create_table_sql("ref", "t", ALL_TYPES) == (
        'CREATE TABLE "ref"."t" ("b" BOOLEAN, "i" INTEGER, "d" DECIMAL_TEXT(18,4), "f" REAL, '
        '"dt" DATE, "ts" TIMESTAMP, "t" TEXT)')
    statements(sl.create_table_sql("ref", "t", ALL_TYPES), "sqlite")


# -- PostgreSQL publish --------------------------------------------------------------------

@pytest.mark.parametrize("name", HOSTILE)
def test_postgres_swap_with_backup(name):
    table, stage, bkp = name, name + "_stage", name + "_bkp"
    sql = pg.swap_sql(plan(table, stage, ["a"]), bkp)
    assert len(sql) == 4
    for statement in sql:
        statements(statement, "postgres")
    assert [quoted_identifiers(s, "postgres") for s in sql] == [
        ["ref", table, bkp],
        ["ref", bkp, "bkp"],
        ["stage", stage, "ref"],
        ["ref", stage, table],
    ]
    assert "RENAME TO" in sql[0] and "SET SCHEMA" in sql[1]


@pytest.mark.parametrize("name", HOSTILE)
def test_postgres_swap_without_backup(name):
    sql = pg.swap_sql(plan(name, name + "_s", ["a"]), None)
    assert [quoted_identifiers(s, "postgres") for s in sql] == [
        ["stage", name + "_s", "ref"],
        ["ref", name + "_s", name],
    ]
    for statement in sql:
        statements(statement, "postgres")


@pytest.mark.parametrize("name", HOSTILE)
def test_postgres_append(name):
    cols = [name, "id", name + "x"]
    [sql] = pg.append_sql(plan(name, name + "_s", cols))
    [insert] = statements(sql, "postgres")
    assert isinstance(insert, exp.Insert)
    target = insert.this.this
    assert (target.db, target.name) == ("ref", name)
    assert [i.name for i in insert.this.expressions] == cols
    select = insert.expression
    assert [c.name for c in select.expressions] == cols
    source = select.find(exp.From).this
    assert (source.db, source.name) == ("stage", name + "_s")


# -- SQLite publish ------------------------------------------------------------------------

@pytest.mark.parametrize("name", HOSTILE)
def test_sqlite_copy(name):
    cols = [name, "id"]
    sql = sl.copy_sql("bkp", name + "_b", "ref", name, cols)
    [insert] = statements(sql, "sqlite")
    assert isinstance(insert, exp.Insert)
    assert (insert.this.this.db, insert.this.this.name) == ("bkp", name + "_b")
    assert [i.name for i in insert.this.expressions] == cols
    assert [c.name for c in insert.expression.expressions] == cols
    source = insert.expression.find(exp.From).this
    assert (source.db, source.name) == ("ref", name)
    assert quoted_identifiers(sql, "sqlite") == ["bkp", name + "_b", *cols, *cols, "ref", name]


# -- backup and staging names --------------------------------------------------------------

def test_backups_to_drop_keeps_newest_k():
    existing = ["cust_20240101000000", "cust_20240103000000", "cust_20240102000000", "cust_20240104000000"]
    assert backups_to_drop("cust", existing, 2) == ["cust_20240102000000", "cust_20240101000000"]


@pytest.mark.parametrize("keep, dropped", [(0, 3), (1, 2), (3, 0), (10, 0)])
def test_backups_to_drop_counts(keep, dropped):
    existing = ["t_20240101000000", "t_20240102000000", "t_20240103000000"]
    assert len(backups_to_drop("t", existing, keep)) == dropped


def test_backups_to_drop_ignores_other_tables():
    existing = ["cust_20240101000000", "cust_x_20240101000000", "cust_x_20240102000000", "customers_20240101000000",
                "cust_2024010100000", "cust", "xcust_20240101000000", "cust_20240101000000_old"]
    assert backups_to_drop("cust", existing, 0) == ["cust_20240101000000"]
    assert backups_to_drop("cust_x", existing, 1) == ["cust_x_20240101000000"]


def test_backups_to_drop_orders_same_second_suffixes_numerically():
    existing = ["t_20240101000000", "t_20240101000000_2", "t_20240101000000_10", "t_20231231235959_3"]
    assert backups_to_drop("t", existing, 1) == ["t_20240101000000_2", "t_20240101000000", "t_20231231235959_3"]


def test_backups_to_drop_long_table_name_round_trips():
    table = "monthly_customer_account_balances_by_region_and_product"
    existing = [backup_name(table, s) for s in ("20240101000000", "20240102000000", "20240103000000")]
    assert all(len(n.encode()) <= MAX_IDENTIFIER_BYTES for n in existing)
    assert backups_to_drop(table, existing, 1) == existing[1::-1]


def test_backups_to_drop_ignores_table_named_with_timestamp():
    # files export.csv and export_20240101120000.csv load two different tables
    other = ["export_20240101120000_20240105000000", "export_20240101120000_20240106000000"]
    assert backups_to_drop("export", ["export_20240104000000", *other], 1) == []


def test_backups_to_drop_long_names_sharing_a_prefix():
    a = "monthly_customer_account_balances_by_region_and_product_2023"
    b = "monthly_customer_account_balances_by_region_and_product_2024"
    assert backup_name(a, "20240101000000") != backup_name(b, "20240101000000")
    assert backups_to_drop(a, [backup_name(b, "20240101000000")], 0) == []


@pytest.mark.parametrize("existing, expected", [
    (set(), "t_20240101000000"),
    ({"t_20240101000000"}, "t_20240101000000_2"),
    ({"t_20240101000000", "t_20240101000000_2"}, "t_20240101000000_3"),
    ({"other", "t_20240101000000_2"}, "t_20240101000000"),
])
def test_free_backup_name(existing, expected):
    assert free_backup_name("t_20240101000000", existing) == expected


def test_free_backup_name_is_recognised_as_a_backup():
    name = free_backup_name("t_20240101000000", {"t_20240101000000"})
    assert backups_to_drop("t", ["t_20240101000000", name], 1) == ["t_20240101000000"]


LOAD_ID = "0123456789abcdef0123456789abcdef"


def test_stage_name_short():
    assert stage_name("cust", LOAD_ID) == "cust_0123456789ab"


@pytest.mark.parametrize("table", ["a" * 200, "é" * 100, "東" * 40, "a" * 49 + "é"])
def test_stage_name_within_63_bytes(table):
    name = stage_name(table, LOAD_ID)
    assert len(name.encode("utf-8")) <= MAX_IDENTIFIER_BYTES
    assert name.endswith("_0123456789ab")
    assert table.startswith(name.removesuffix("_0123456789ab"))


def test_stage_names_differ_per_load():
    assert stage_name("t" * 100, "a" * 32) != stage_name("t" * 100, "b" * 32)


@pytest.mark.parametrize("table", ["cust", "a" * 200, "é" * 100])
def test_backup_name_within_63_bytes(table):
    name = backup_name(table, "20240101000000")
    assert len(name.encode("utf-8")) <= MAX_IDENTIFIER_BYTES
    assert name.endswith("_20240101000000")


# -- every statement of every dialect parses ---------------------------------------------------

def parse_any(text: str, dialect: str) -> exp.Expression:
    parsed = sqlglot.parse(text, read=dialect, error_level=sqlglot.ErrorLevel.RAISE)
    assert len(parsed) == 1 and parsed[0] is not None, text
    return parsed[0]


@pytest.mark.parametrize("module, dialect", [(pg, "postgres"), (sl, "sqlite")])
@pytest.mark.parametrize("name", HOSTILE)
def test_every_statement_parses(module, dialect, name):
    statements_ = module.all_statements(plan(name, name + "_s", [name, "id"]), name + "_b")
    assert len(statements_) > 20
    for text in statements_:
        parse_any(text, dialect)
        quoted_identifiers(text, dialect)  # and no statement separator anywhere


@pytest.mark.parametrize("module, dialect, mark", [(pg, "postgres", "%s"), (sl, "sqlite", "?")])
def test_tracking_values_travel_as_parameters(module, dialect, mark):
    track = module.tracking("loader") if module is pg else module.TRACKING
    for text in track.all():
        assert "'" not in text.replace("'loaded'", "").replace("'fullload'", "").replace("'loading'", "") \
            .replace("'failed'", "").replace("'-infinity'", "").replace("''", ""), text
    assert track.insert.count(mark) == len(TRACKING_COLUMNS)
    assert track.update.count(mark) == len(TRACKING_COLUMNS)
    assert track.duplicate.count(mark) == 5 and track.interrupted.count(mark) == 3


def test_tracking_update_sets_every_column_but_the_key():
    update = parse_any(sl.TRACKING.update, "sqlite")
    assert isinstance(update, exp.Update)
    assigned = [e.this.name for e in update.expressions]
    assert assigned == [n for n, _ in TRACKING_COLUMNS if n != "load_id"]
    assert update.find(exp.Where).find(exp.Column).name == "load_id"


def test_postgres_retire_without_backup_drops_and_with_backup_moves():
    p = plan("t", "t_s", ["a"])
    assert pg.retire_sql(p, None) == ['DROP TABLE "ref"."t"']
    assert pg.swap_sql(p, "t_b")[:2] == pg.retire_sql(p, "t_b")


def test_sqlite_retire_copies_the_old_columns_into_bkp():
    p = plan("t", "t_s", ["a", "b"])
    old = columns(["a"])  # an older version of the table had fewer columns
    steps = [s for s, _ in sl.retire_sql(p, "t_b", old)]
    assert steps == ['CREATE TABLE "bkp"."t_b" ("a" INTEGER)',
                     'INSERT INTO "bkp"."t_b" ("a") SELECT "a" FROM "ref"."t"', 'DROP TABLE "ref"."t"']
    assert [s for s, _ in sl.retire_sql(p, None, old)] == ['DROP TABLE "ref"."t"']


def test_dollar_params_number_in_order():
    assert pg.dollar_params("UPDATE t SET a = %s, b = %s WHERE c = %s") == "UPDATE t SET a = $1, b = $2 WHERE c = $3"
    parse_any(pg.dollar_params(pg.tracking("loader").update), "postgres")
