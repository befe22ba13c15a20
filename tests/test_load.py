"""End to end against the real databases: what a user of `loader load` relies on."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from loader.errors import EXIT_DATA, EXIT_DUPLICATE, EXIT_OK, EXIT_USAGE
from loader.load import LoadRequest, load_file

from .conftest import Db
from .files import HEADER, write_edge_file, write_numbers


def load(db: Db, path: Path, table: str | None = "t", mode: str = "fullload", force: bool = False, **settings: Any):
    return load_file(LoadRequest(str(path), table, mode, force), db.settings(**settings))


def normalise(kind: str, value: Any) -> Any:
    """SQLite returns decimals, dates and timestamps as exact text; compare as Python values."""
    if value is None:
        return None
    if kind == "amount":
        return Decimal(str(value))
    if kind == "born" and isinstance(value, str):
        return dt.date.fromisoformat(value)
    if kind == "seen_at" and isinstance(value, str):
        return dt.datetime.fromisoformat(value)
    if kind == "active":
        return bool(value)
    return value


def assert_ledger_balanced(db: Db) -> None:
    for row in db.tracking():
        assert row["rows_read"] == row["rows_loaded"] + row["rows_rejected"], row


def test_round_trip_every_value(db: Db, tmp_path: Path) -> None:
    path = tmp_path / "edge.csv"
    expected = write_edge_file(path)
    result = load(db, path)
    assert result.exit_code == EXIT_OK, result.error
    assert result.rows_loaded == len(expected)
    rows = db.query(f"SELECT {', '.join(HEADER)} FROM ref.t ORDER BY id")
    got = [[normalise(k, v) for k, v in zip(HEADER, row)] for row in rows]
    assert got == sorted(expected, key=lambda r: r[0])
    assert_ledger_balanced(db)


def test_fullload_replaces_and_keeps_newest_backups(db: Db, tmp_path: Path) -> None:
    for version in range(1, 6):
        path = tmp_path / f"v{version}.csv"
        write_numbers(path, rows=10 * version)
        result = load(db, path, backups_keep=3)
        assert result.exit_code == EXIT_OK, result.error
        if version > 1:
            assert result.backup and result.backup.startswith("bkp.t_")
    assert db.query("SELECT count(*) FROM ref.t") == [(50,)]
    backups = db.tables("bkp")
    assert len(backups) == 3
    counts = sorted(db.query(f'SELECT count(*) FROM bkp."{b}"')[0][0] for b in backups)
    assert counts == [20, 30, 40]  # the newest three previous versions
    assert db.staging_leftovers() == []
    assert_ledger_balanced(db)


def test_append_adds_rows_and_refuses_the_same_content(db: Db, tmp_path: Path) -> None:
    first, second = tmp_path / "a.csv", tmp_path / "b.csv"
    write_numbers(first, rows=100)
    write_numbers(second, rows=50, start=100)
    assert load(db, first, mode="append").exit_code == EXIT_OK
    assert load(db, second, mode="append").exit_code == EXIT_OK
    again = load(db, first, mode="append")
    assert again.exit_code == EXIT_DUPLICATE and again.status == "duplicate"
    assert "already in ref.t" in (again.error or "")
    assert db.query("SELECT count(*), sum(id) FROM ref.t") == [(150, sum(range(150)))]
    forced = load(db, first, mode="append", force=True)
    assert forced.exit_code == EXIT_OK
    assert db.query("SELECT count(*) FROM ref.t") == [(250,)]
    statuses = [r["status"] for r in db.tracking()]
    assert statuses == ["loaded", "loaded", "duplicate", "loaded"]
    assert_ledger_balanced(db)


def test_append_uses_the_table_types_not_the_guess(db: Db, tmp_path: Path) -> None:
    first, second = tmp_path / "a.csv", tmp_path / "b.csv"
    first.write_text("id,amount\n1,1.50\n2,2.25\n")
    second.write_text("id,amount\n3,7\n4,8\n")  # alone these would be bigint
    assert load(db, first, mode="append").exit_code == EXIT_OK
    assert load(db, second, mode="append").exit_code == EXIT_OK
    total = db.query("SELECT sum(amount) FROM ref.t")[0][0]
    assert Decimal(str(total)) == Decimal("18.75")


def test_append_refuses_unknown_columns(db: Db, tmp_path: Path) -> None:
    first, second = tmp_path / "a.csv", tmp_path / "b.csv"
    first.write_text("id,name\n1,a\n")
    second.write_text("id,name,extra\n2,b,c\n")
    assert load(db, first, mode="append").exit_code == EXIT_OK
    result = load(db, second, mode="append")
    assert result.exit_code == EXIT_DATA
    assert "['extra']" in (result.error or "")
    assert db.query("SELECT count(*) FROM ref.t") == [(1,)]


def test_bad_value_midway_leaves_the_table_as_it_was(db: Db, tmp_path: Path) -> None:
    good, bad = tmp_path / "good.csv", tmp_path / "bad.csv"
    write_numbers(good, rows=1000)
    assert load(db, good).exit_code == EXIT_OK
    bad_at = db.rows(150_000)  # well past the first batches, so rows are already in staging
    write_numbers(bad, rows=db.rows(200_000), bad_at=bad_at, bad_value="15O000")
    result = load(db, bad)
    assert result.exit_code == EXIT_DATA
    assert result.status == "failed"
    assert f"line {bad_at + 1}" in result.error and "column 'id'" in result.error and "15O000" in result.error
    assert db.query("SELECT count(*), sum(id) FROM ref.t") == [(1000, sum(range(1000)))]
    assert db.tables("bkp") == []
    assert db.staging_leftovers() == []
    failed = db.tracking()[-1]
    assert failed["status"] == "failed" and failed["error_line"] == bad_at + 1 and failed["error_column"] == "id"
    assert_ledger_balanced(db)


def test_nul_after_the_sample_is_stripped_on_postgresql_too(pg_any: Db, tmp_path: Path) -> None:
    """One NUL rule on every target (issue 11 item 15): PostgreSQL text cannot hold NUL, SQLite would
    store it; the reader strips it wherever it is and says so in the tracking row (it used to be refused)."""
    pg = pg_any
    bad = tmp_path / "bad.csv"
    bad_at = pg.rows(150_000)
    write_numbers(bad, rows=pg.rows(200_000))
    lines = bad.read_text().splitlines(keepends=True)
    lines[bad_at] = lines[bad_at].replace("row ", "ro\x00w ")
    bad.write_text("".join(lines))
    result = load(pg, bad, sample_bytes=1 << 16)  # NUL past the sample
    assert result.exit_code == EXIT_OK, result.error
    assert pg.query("SELECT label FROM ref.t WHERE id = ?", (bad_at - 1,)) == [(f"row {bad_at - 1}",)]
    assert "NUL characters found after the sample" in str(pg.tracking()[-1]["detected_format"])
    assert pg.staging_leftovers() == []
    assert_ledger_balanced(pg)


def test_database_refusing_a_row_names_its_line_and_column(pg_any: Db, tmp_path: Path) -> None:
    """A value the reader accepts but the table refuses (NOT NULL here), deep in the file: the error
    names the column (and, where the rows go straight into the table, the file's physical line), and
    nothing is appended."""
    pg = pg_any
    first, second = tmp_path / "a.csv", tmp_path / "b.csv"
    write_numbers(first, rows=10)
    assert load(pg, first, mode="append").exit_code == EXIT_OK
    pg.query("ALTER TABLE ref.t ALTER COLUMN label SET NOT NULL")
    bad_at = pg.rows(150_000)
    write_numbers(second, rows=pg.rows(200_000), start=10)
    lines = second.read_text().splitlines(keepends=True)
    lines[bad_at] = lines[bad_at].replace(f"row {bad_at + 9}", "")  # data row bad_at: an empty label (NULL)
    second.write_text("".join(lines))
    result = load(pg, second, mode="append")
    assert result.exit_code == EXIT_DATA, result.error
    assert "label" in (result.error or "")
    failed = pg.tracking()[-1]
    assert failed["status"] == "failed"
    if pg.kind == "postgresql":  # COPY straight into ref.t: the server names the row
        assert f"line {bad_at + 1}" in (result.error or "") and failed["error_line"] == bad_at + 1
    # (postgresql+pyodbc stages first: the constraint of ref.t fails in the publish's INSERT … SELECT,
    # which names the column and constraint but no row)
    assert pg.query("SELECT count(*) FROM ref.t") == [(10,)]
    assert pg.staging_leftovers() == []
    assert_ledger_balanced(pg)


def test_constraint_violation_on_append_is_refused_whole(db: Db, tmp_path: Path) -> None:
    first, second = tmp_path / "a.csv", tmp_path / "b.csv"
    write_numbers(first, rows=100)
    assert load(db, first, mode="append").exit_code == EXIT_OK
    db_index = "CREATE UNIQUE INDEX t_id ON t (id)" if db.kind == "sqlite" else "CREATE UNIQUE INDEX t_id ON ref.t (id)"
    if db.kind == "sqlite":
        import sqlite3

        path = db.url.split("sqlite:///", 1)[1].replace(".db", ".ref.db")
        with sqlite3.connect(path) as conn:
            conn.execute(db_index)
    else:
        db.query(db_index)
    write_numbers(second, rows=100, start=99)  # id 99 is already there
    result = load(db, second, mode="append")
    assert result.exit_code == EXIT_DATA
    assert "unique" in (result.error or "").lower()
    assert db.query("SELECT count(*) FROM ref.t") == [(100,)]
    assert db.staging_leftovers() == []
    assert_ledger_balanced(db)


def test_hostile_headers_become_safe_columns(db: Db, tmp_path: Path) -> None:
    path = tmp_path / "hostile.csv"
    long = "x" * 200
    headers = ['x"; DROP TABLE ref.canary; --', "first name", "a.b", "Straße 東京", "select", "id", "id", long, ""]
    path.write_text(",".join(f'"{h.replace(chr(34), chr(34) * 2)}"' for h in headers) + "\n" + ",".join("1" * 9) + "\n")
    canary = tmp_path / "canary.csv"
    write_numbers(canary, rows=3)
    assert load(db, canary, table="canary").exit_code == EXIT_OK
    result = load(db, path)
    assert result.exit_code == EXIT_OK, result.error
    assert db.query("SELECT count(*) FROM ref.canary") == [(3,)]
    fmt = db.tracking()[-1]["detected_format"]
    assert '"source_name": "x\\"; DROP TABLE ref.canary; --"' in fmt
    columns = 'x_drop_table_ref_canary, first_name, a_b, "straße_東京", "select", id, id_2, col_9'
    row = db.query(f"SELECT {columns} FROM ref.t")
    assert row == [(1, 1, 1, 1, 1, 1, 1, 1)]


@pytest.mark.parametrize("table", ['x"; DROP TABLE ref.t; --', "has space", "a.b", "Upper", "y" * 64, "1abc"])
def test_hostile_table_names_are_refused(db: Db, tmp_path: Path, table: str) -> None:
    path = tmp_path / "f.csv"
    write_numbers(path, rows=3)
    result = load(db, path, table=table)
    assert result.exit_code == EXIT_USAGE
    assert "not a safe identifier" in (result.error or "")


def test_table_name_from_file_name(db: Db, tmp_path: Path) -> None:
    path = tmp_path / "Customer List 2024.csv"
    write_numbers(path, rows=2)
    result = load(db, path, table=None)
    assert result.exit_code == EXIT_OK and result.table == "ref.customer_list_2024"
    assert db.query("SELECT count(*) FROM ref.customer_list_2024") == [(2,)]


def test_empty_and_header_only_files_fail_clearly(db: Db, tmp_path: Path) -> None:
    empty = tmp_path / "empty.csv"
    empty.write_text("")
    result = load(db, empty)
    assert result.exit_code == EXIT_DATA and "empty" in result.error
    header_only = tmp_path / "header.csv"
    header_only.write_text("a,b\n")
    refused = load(db, header_only)  # a full load of 0 rows would empty the table: refused by default
    assert refused.exit_code == EXIT_DATA and "allow_empty" in refused.error
    assert db.tables("ref") == []
    result = load(db, header_only, allow_empty=True)
    assert result.exit_code == EXIT_OK and result.rows_loaded == 0
    assert db.query("SELECT count(*) FROM ref.t") == [(0,)]
    assert_ledger_balanced(db)


def test_an_older_tracking_table_gains_the_new_columns(db: Db, tmp_path: Path) -> None:
    """Upgrading loader must not break on the tracking table an older version created."""
    from loader.targets import open_target

    target = open_target(db.settings())
    target.ensure_ready()
    target.close()
    table = "main.loader_files" if db.kind == "sqlite" else "loader.loader_files"
    if db.kind == "sqlite":
        import sqlite3

        with sqlite3.connect(db.url.split("sqlite:///", 1)[1]) as conn:
            conn.execute(f"ALTER TABLE {table} DROP COLUMN rejects_file")
    else:
        db.query(f"ALTER TABLE {table} DROP COLUMN rejects_file")
    path = tmp_path / "f.csv"
    write_numbers(path, rows=3)
    result = load(db, path)
    assert result.exit_code == EXIT_OK, result.error
    assert "rejects_file" in db.tracking()[-1]


def test_append_failing_midway_adds_nothing(db: Db, tmp_path: Path) -> None:
    """On PostgreSQL appends COPY straight into ref.T: a late bad row must roll all of it back."""
    first, bad = tmp_path / "a.csv", tmp_path / "b.csv"
    write_numbers(first, rows=100)
    assert load(db, first, mode="append").exit_code == EXIT_OK
    write_numbers(bad, rows=60_000, start=100, bad_at=50_000, bad_value="x1")
    result = load(db, bad, mode="append")
    assert result.exit_code == EXIT_DATA and "line 50001" in (result.error or "")
    assert db.query("SELECT count(*), sum(id) FROM ref.t") == [(100, sum(range(100)))]
    assert [r["status"] for r in db.tracking()] == ["loaded", "failed"]
    assert db.staging_leftovers() == []
