"""Schema drift on every database: a file that adds, drops and reorders columns against its table."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from loader.errors import EXIT_DATA, EXIT_OK
from loader.load import LoadRequest, load_file

from .conftest import Db


def load(db: Db, path: Path, mode: str = "append", **settings: Any):
    return load_file(LoadRequest(str(path), "t", mode, force=True, keys=("id",) if mode == "merge" else ()),
                     db.settings(**settings))


@pytest.fixture
def table(db: Db, tmp_path: Path) -> Db:
    v1 = tmp_path / "v1.csv"
    v1.write_text("id,name,qty\n1,a,10\n2,b,20\n")
    assert load(db, v1, "fullload").exit_code == EXIT_OK
    return db


def drifted(tmp_path: Path) -> Path:
    """qty dropped, name and id reordered, price added."""
    v2 = tmp_path / "v2.csv"
    v2.write_text("name,id,price\nc,3,1.5\nd,4,2.5\n")
    return v2


def test_fail_is_the_default_and_names_the_columns(table: Db, tmp_path: Path) -> None:
    result = load(table, drifted(tmp_path))
    assert result.exit_code == EXIT_DATA and "['price']" in result.error and "schema_drift" in result.error
    assert table.query("SELECT count(*) FROM ref.t") == [(2,)]


@pytest.mark.parametrize("mode", ["append", "merge"])
def test_add_columns_adds_them_nullable_and_notes_it(table: Db, tmp_path: Path, mode: str) -> None:
    result = load(table, drifted(tmp_path), mode, schema_drift="add_columns")
    assert result.exit_code == EXIT_OK, result.error
    rows = [tuple(r) for r in table.query("SELECT id, name, qty, price FROM ref.t ORDER BY id")]
    assert [(i, n, q) for i, n, q, _ in rows] == [(1, "a", 10), (2, "b", 20), (3, "c", None), (4, "d", None)]
    assert [None if p is None else float(p) for *_, p in rows] == [None, None, 1.5, 2.5]
    said = table.tracking()[-1]["detected_format"]
    assert "['price'] added to" in said and "['qty']" in said and "NULL" in said  # both changes recorded


def test_ignore_loads_the_known_columns_and_says_which_were_dropped(table: Db, tmp_path: Path) -> None:
    result = load(table, drifted(tmp_path), schema_drift="ignore")
    assert result.exit_code == EXIT_OK, result.error
    assert [tuple(r) for r in table.query("SELECT id, name, qty FROM ref.t ORDER BY id")] == [
        (1, "a", 10), (2, "b", 20), (3, "c", None), (4, "d", None)]
    assert "price" not in [c.lower() for c in _columns(table)]
    assert "not loaded" in " ".join(result.notes)


def test_missing_columns_fail_refuses_a_file_without_them(table: Db, tmp_path: Path) -> None:
    result = load(table, drifted(tmp_path), schema_drift="ignore", missing_columns="fail")
    assert result.exit_code == EXIT_DATA and "['qty']" in result.error
    assert table.query("SELECT count(*) FROM ref.t") == [(2,)]


def _columns(db: Db) -> list[str]:
    if db.kind == "sqlite":
        return [r[1] for r in db.query('PRAGMA "ref".table_info("t")')]
    return [r[0] for r in db.query("SELECT column_name FROM information_schema.columns WHERE table_schema = 'ref' "
                                   "AND table_name = 't'")]
