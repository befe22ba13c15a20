"""schema_drift = "rescue": values that do not fit, and columns the table lacks, kept as JSON in
`_rescued` instead of rejecting the row — the pure batch step, and loads on every database."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pyarrow as pa
import pytest

from loader.coltypes import TEXT, Column, ColumnType
from loader.errors import EXIT_DATA, EXIT_OK, BadInputError
from loader.load import LoadRequest, load_file
from loader.rescue import RESCUED, check_clash, rescued

from .conftest import Db


def load(db: Db, path: Path, mode: str = "append", **settings: Any):
    return load_file(LoadRequest(str(path), "t", mode, force=True, keys=("id",) if mode == "merge" else ()),
                     db.settings(**settings))


def test_bad_values_become_null_and_travel_in_rescued_with_the_extra_columns() -> None:
    columns = [Column("id", ColumnType("bigint")), Column("day", ColumnType("date")), Column("name", TEXT),
               Column("note", TEXT)]
    batch = pa.record_batch([pa.array(["1", "x2", "3"]), pa.array(["2024-01-02", "2024-02-30", None]),
                             pa.array(["a", "b", "c"]), pa.array([None, "late", ""])],
                            names=["id", "day", "name", "note"])
    reader = pa.RecordBatchReader.from_batches(batch.schema, iter([batch]))
    out = rescued(reader, columns, ["note"]).read_all()
    assert out.column("id").to_pylist() == [1, None, 3]
    assert [str(d) if d else None for d in out.column("day").to_pylist()] == ["2024-01-02", None, None]
    assert out.column("name").to_pylist() == ["a", "b", "c"]
    assert [json.loads(t) if t else None for t in out.column(RESCUED).to_pylist()] == [
        None, {"id": "x2", "day": "2024-02-30", "note": "late"}, None]
    assert out.schema.field("id").type == pa.int64() and out.schema.field(RESCUED).type == pa.string()


@pytest.fixture
def table(db: Db, tmp_path: Path) -> Db:
    v1 = tmp_path / "v1.csv"
    v1.write_text("id,qty,day\n1,10,2024-01-01\n2,20,2024-01-02\n")
    assert load(db, v1, "fullload").exit_code == EXIT_OK
    return db


def _rescued(db: Db) -> list[tuple[Any, ...]]:
    rows = db.query(f"SELECT id, qty, day, {RESCUED} FROM ref.t ORDER BY id")
    return [(i, q, str(d)[:10] if d else None, json.loads(r) if r else None) for i, q, d, r in rows]


@pytest.mark.parametrize("mode", ["append", "merge"])
def test_rescue_keeps_every_row_and_what_did_not_fit(table: Db, tmp_path: Path, mode: str) -> None:
    v2 = tmp_path / "v2.csv"  # qty of 3 is not a number, day of 4 not a date; note is not in the table
    v2.write_text("id,qty,day,note\n3,n/a,2024-01-03,\n4,40,31.02.2024,late\n5,50,2024-01-05,\n")
    result = load(table, v2, mode, schema_drift="rescue")
    assert result.exit_code == EXIT_OK, result.error
    assert result.rows_loaded == 3 and result.rows_rejected == 0
    assert _rescued(table) == [(1, 10, "2024-01-01", None), (2, 20, "2024-01-02", None),
                               (3, None, "2024-01-03", {"qty": "n/a"}),
                               (4, 40, None, {"day": "31.02.2024", "note": "late"}), (5, 50, "2024-01-05", None)]
    notes = " ".join(result.notes)
    assert "kept in _rescued" in notes and "2 row(s) with 3 value(s) kept in _rescued" in notes, notes
    assert "2 row(s) with 3 value(s)" in table.tracking()[-1]["detected_format"], "the tracking row says so"
    assert "note" not in [c.lower() for c in _columns(table)], "a rescued column is not added"


def test_a_merge_key_is_never_rescued(table: Db, tmp_path: Path) -> None:
    v2 = tmp_path / "v2.csv"
    v2.write_text("id,qty,day\n3,30,2024-01-03\nx4,40,2024-01-04\n")
    result = load(table, v2, "merge", schema_drift="rescue")
    assert result.exit_code == EXIT_DATA, result.error
    assert "data row 2" in result.error and "merge key id" in result.error and "'x4'" in result.error
    assert table.query("SELECT count(*) FROM ref.t") == [(2,)], "nothing merged"


def test_rescue_on_a_full_load_creates_the_column(db: Db, tmp_path: Path) -> None:
    path = tmp_path / "t.csv"
    path.write_text("id,qty\n1,10\n2,20\n")
    assert load(db, path, "fullload", schema_drift="rescue").exit_code == EXIT_OK
    assert db.query(f"SELECT id, qty, {RESCUED} FROM ref.t ORDER BY id") == [(1, 10, None), (2, 20, None)]


def test_rescue_reads_any_format_the_same_way(table: Db, tmp_path: Path) -> None:
    lines = tmp_path / "v2.jsonl"
    lines.write_text('{"id": 3, "qty": "lots", "day": "2024-01-03"}\n{"id": 4, "qty": 40, "day": "2024-01-04", '
                     '"extra": {"a": 1}}\n')
    result = load(table, lines, schema_drift="rescue")
    assert result.exit_code == EXIT_OK, result.error
    got = {i: r for i, _, _, r in _rescued(table)}
    assert got[3] == {"qty": "lots"} and got[4] == {"extra_a": "1"}  # one level of nesting flattened


def test_a_column_named_rescued_is_refused() -> None:
    """A header `_rescued` is named `rescued` (a leading underscore is the loader's); a route's mapping
    that renames a column to it would be silently overwritten: refused."""
    with pytest.raises(BadInputError, match=RESCUED):
        check_clash([Column("id", TEXT), Column(RESCUED, TEXT)], "ref.t")


def _columns(db: Db) -> list[str]:
    if db.kind == "sqlite":
        return [r[1] for r in db.query("SELECT * FROM pragma_table_info('t', 'ref')")]
    if db.kind == "mssql":
        return [r[0] for r in db.query("SELECT name FROM sys.columns WHERE object_id = OBJECT_ID('ref.t')")]
    return [r[0] for r in db.query("SELECT column_name FROM information_schema.columns WHERE table_schema = 'ref' "
                                   "AND table_name = 't'")]
