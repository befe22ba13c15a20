"""widen_types on every database: a file that needs a table's column wider widens it in the publish
transaction, rows already there converted; without it the file is refused and the table untouched."""

from __future__ import annotations

import contextlib
import sqlite3
from pathlib import Path
from typing import Any

import pytest

from loader.errors import EXIT_DATA, EXIT_OK
from loader.load import LoadRequest, load_file

from .conftest import Db


def load(db: Db, path: Path, mode: str = "append", **settings: Any):
    return load_file(LoadRequest(str(path), "t", mode, force=True, keys=("id",) if mode == "merge" else ()),
                     db.settings(**settings))


def csv(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


@pytest.fixture
def table(db: Db, tmp_path: Path) -> Db:
    assert load(db, csv(tmp_path, "v1.csv", "id,qty,day\n1,10,2024-01-31\n2,,2024-02-01\n"), "fullload").exit_code \
        == EXIT_OK
    return db


def rows(db: Db) -> list[tuple[Any, ...]]:
    """Values as text, so every database's drivers compare alike (SQLite keeps decimals as text)."""
    return [tuple(None if v is None else str(v)[:19] for v in r)
            for r in db.query("SELECT id, qty, day FROM ref.t ORDER BY id")]


@pytest.mark.parametrize("mode", ["append", "merge"])
def test_a_wider_file_widens_the_table_and_converts_its_rows(table: Db, tmp_path: Path, mode: str) -> None:
    v2 = csv(tmp_path, "v2.csv", "id,qty,day\n3,2.5,2024-03-01 12:30:00\n4,-7.25,2024-03-02 00:00:01\n")
    result = load(table, v2, mode, widen_types=True)
    assert result.exit_code == EXIT_OK, result.error
    assert rows(table) == [("1", "10.00", "2024-01-31 00:00:00"), ("2", None, "2024-02-01 00:00:00"),
                           ("3", "2.50", "2024-03-01 12:30:00"), ("4", "-7.25", "2024-03-02 00:00:01")]
    said = " ".join(result.notes) + table.tracking()[-1]["detected_format"]
    assert "'qty' of ref.t widened from bigint to decimal(21,2)" in said and "'day'" in said
    again = load(table, csv(tmp_path, "v3.csv", "id,qty,day\n5,1,2024-04-01\n"), mode)  # the table keeps its types
    assert again.exit_code == EXIT_OK, again.error
    assert rows(table)[-1] == ("5", "1.00", "2024-04-01 00:00:00")


def test_without_widen_types_the_file_is_refused_and_the_table_untouched(table: Db, tmp_path: Path) -> None:
    """Even with type_mismatch = widen: staging wider than the table would let a database round 2.5."""
    v2 = csv(tmp_path, "v2.csv", "id,qty,day\n3,2.5,2024-03-01\n")
    before = rows(table)
    for extra in ({}, {"type_mismatch": "widen"}):
        result = load(table, v2, **extra)
        assert result.exit_code == EXIT_DATA, result.error
        assert "qty" in result.error and "widen_types" in result.error
        assert rows(table) == before
    assert _type_of(table, "qty") in ("bigint", "integer", "int8")


def test_a_value_past_the_sample_widens_the_column_to_text(table: Db, tmp_path: Path) -> None:
    body = "".join(f"{i},{i},2024-01-01\n" for i in range(3, 60)) + "60,n/a,2024-01-01\n"
    result = load(table, csv(tmp_path, "v2.csv", "id,qty,day\n" + body), widen_types=True, sample_rows=20)
    assert result.exit_code == EXIT_OK, result.error
    got = rows(table)
    assert len(got) == 60 and got[0][1] == "10" and got[-1][1] == "n/a" and got[5][1] == "6"
    assert "widened" in table.tracking()[-1]["detected_format"]


def test_a_merge_key_is_never_widened(table: Db, tmp_path: Path) -> None:
    before = rows(table)
    result = load(table, csv(tmp_path, "v2.csv", "id,qty,day\nA7,1,2024-01-01\n"), "merge", widen_types=True)
    assert result.exit_code == EXIT_DATA and "id" in result.error
    assert rows(table) == before


def test_sqlite_keeps_the_tables_indexes_through_the_rebuild(sqlite_db: Db, tmp_path: Path) -> None:
    v1 = csv(tmp_path, "v1.csv", "id,qty,day\n1,10,2024-01-31\n")
    assert load(sqlite_db, v1, "merge").exit_code == EXIT_OK  # the first merge makes the key's unique index
    with contextlib.closing(sqlite3.connect(sqlite_db.url.removeprefix("sqlite:///").replace(".db", ".ref.db"))) as c:
        c.execute('CREATE INDEX "t_qty" ON "t" ("qty")')
        c.commit()
    result = load(sqlite_db, csv(tmp_path, "v2.csv", "id,qty,day\n2,0.5,2024-02-01\n"), widen_types=True)
    assert result.exit_code == EXIT_OK, result.error
    names = {r[0] for r in sqlite_db.query("SELECT name FROM ref.sqlite_master WHERE type = 'index'")}
    assert "t_qty" in names and any(n.startswith("t_key_") for n in names)
    assert _type_of(sqlite_db, "qty") == "decimal_text(20,1)"


def _type_of(db: Db, column: str) -> str:
    if db.kind == "sqlite":
        return next(r[2] for r in db.query('PRAGMA "ref".table_info("t")') if r[1] == column).lower()
    found = db.query("SELECT data_type FROM information_schema.columns WHERE table_schema = 'ref' "
                     f"AND table_name = 't' AND column_name = '{column}'")
    return str(found[0][0]).lower()
