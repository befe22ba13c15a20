"""Database sources for real: a PostgreSQL database and a SQLite file as sources, every target.

The source PostgreSQL is a second database on the same embedded server; `postgresql+pyodbc`
as a *source* reads it through arrow-odbc and psqlODBC, the path SQL Server sources share.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import decimal
import os
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest

from loader.config import Settings
from loader.sources import PullRequest, pull

from .conftest import Db, _pg_database, pg_odbc_url, require_pg_odbc

ROOT = Path(__file__).resolve().parent.parent
UTC = dt.UTC

PG_TYPES = """CREATE TABLE crm.everything (
    id bigint PRIMARY KEY, small smallint, whole integer, amount numeric(18,4), ratio numeric(38,10),
    measure double precision, flag boolean, day date, seen timestamp, updated_at timestamptz NOT NULL,
    name text, code varchar(10), ident uuid, doc jsonb)"""
ROW = (1, 2, 3, decimal.Decimal("12345678901234.5678"), decimal.Decimal("0.0000000001"), 0.5, True,
       dt.date(2024, 2, 29), dt.datetime(2024, 1, 2, 3, 4, 5, 678901),
       dt.datetime(2024, 1, 2, 3, 4, 5, 1, tzinfo=UTC), "Zoë, \"quoted\"\nnewline", "007",
       "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11", '{"a": [1, 2]}')
NULLS = (2,) + (None,) * 8 + (dt.datetime(2024, 1, 3, tzinfo=UTC),) + (None,) * 4
EXPECTED = {  # logical type per column: from the source's schema, nothing inferred
    "id": "bigint", "small": "bigint", "whole": "bigint", "amount": "decimal(18,4)", "ratio": "decimal(38,10)",
    "measure": "float", "flag": "boolean", "day": "date", "seen": "timestamp", "updated_at": "timestamptz",
    "name": "text", "code": "text", "ident": "text", "doc": "text"}


@pytest.fixture
def pg_source(pg_server_url: str) -> Iterator[str]:
    """A second PostgreSQL database (schema crm) on the embedded server."""
    for url in _pg_database(pg_server_url):
        with psycopg.connect(url, autocommit=True) as conn:
            conn.execute("CREATE SCHEMA crm")
        yield url


def pg_exec(url: str, sql: str, params: Any = None, many: list[Any] | None = None) -> None:
    with psycopg.connect(url, autocommit=True) as conn, conn.cursor() as cur:
        if many is not None:
            cur.executemany(sql, many)
        else:
            cur.execute(sql, params)


def norm(value: Any) -> Any:
    """One spelling per value across targets (SQLite keeps decimals, dates and times as text)."""
    if isinstance(value, bool):
        return int(value)
    if isinstance(value, decimal.Decimal):
        return format(value, "f")
    if isinstance(value, dt.datetime):
        if value.tzinfo is not None:
            return value.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S.%fZ")
        return value.strftime("%Y-%m-%d %H:%M:%S.%f")
    if isinstance(value, dt.date):
        return value.isoformat()
    return value


def settings_of(db: Db) -> Settings:
    return db.settings()


def rows_of(db: Db, table: str, order: str = "id") -> list[tuple[Any, ...]]:
    return [tuple(norm(v) for v in r) for r in db.query(f"SELECT * FROM ref.{table} ORDER BY {order}")]


def column_types(db: Db, table: str) -> dict[str, str]:
    from loader.targets import open_target

    target = open_target(db.settings())
    try:
        return {c.name: str(c.type) for c in target.existing_columns("ref", table) or []}
    finally:
        target.close()


def _source_url(kind: str, pg_url: str) -> str:
    if kind == "postgresql+pyodbc":
        require_pg_odbc()
        return pg_odbc_url(pg_url)
    return pg_url


# -- full pulls: every logical type, every target -------------------------------------------------------
@pytest.mark.parametrize("source_kind", ["postgresql", "postgresql+pyodbc"])
def test_every_type_round_trips_from_postgresql(db: Db, pg_source: str, source_kind: str) -> None:
    pg_exec(pg_source, PG_TYPES)
    pg_exec(pg_source, "INSERT INTO crm.everything VALUES (" + ", ".join(["%s"] * len(ROW)) + ")", many=[ROW, NULLS])
    result = pull(PullRequest(source=_source_url(source_kind, pg_source), source_table="crm.everything",
                              table="everything"), db.settings())
    assert result.status == "loaded", result.error
    assert result.rows_loaded == 2
    # the SQLite target keeps decimals as exact text, which Arrow may spell 1E-10: compare the numbers
    got = [tuple(format(decimal.Decimal(v), "f") if i in (3, 4) and v is not None else v for i, v in enumerate(r))
           for r in rows_of(db, "everything")]
    expected_row = [norm(v) for v in ROW]
    expected_row[13] = '{"a": [1, 2]}'
    expected_nulls = [norm(v) for v in NULLS]
    expected = dict(EXPECTED)
    if source_kind == "postgresql+pyodbc":  # ODBC has no zoned timestamp: UTC wall time, as SQL Server's
        expected_row[9] = expected_row[9].rstrip("Z")
        expected_nulls[9] = expected_nulls[9].rstrip("Z")
        expected["updated_at"] = "timestamp"
        got[0] = got[0][:12] + (got[0][12].lower(),) + got[0][13:]  # psqlODBC spells a GUID in capitals
    assert list(got[0]) == expected_row
    assert list(got[1]) == expected_nulls
    types = column_types(db, "everything")
    assert {k: types[k] for k in expected if k not in ("small", "whole")} == \
        {k: v for k, v in expected.items() if k not in ("small", "whole")}
    row = db.tracking()[-1]
    assert row["route"] == "pull" and row["status"] == "loaded" and "secret" not in str(row)
    assert '"type": "decimal(18,4)"' in row["detected_format"]  # the column types chosen are in the row


def test_sqlite_source_into_postgresql(pg: Db, tmp_path: Path) -> None:
    src = tmp_path / "src.db"
    with contextlib.closing(sqlite3.connect(src)) as conn:
        conn.execute("CREATE TABLE items (id INTEGER, price DECIMAL(10,2), day DATE, seen TIMESTAMP, ok BOOLEAN, "
                     "w REAL, name TEXT, anything)")
        conn.executemany("INSERT INTO items VALUES (?,?,?,?,?,?,?,?)",
                         [(1, "1.50", "2024-01-02", "2024-01-02 03:04:05.000006", 1, 0.25, "a", "x"),
                          (2, None, None, None, 0, None, None, 7)])
        conn.commit()
    result = pull(PullRequest(source=f"sqlite:///{src}", source_table="items", table="items"), pg.settings())
    assert result.status == "loaded", result.error
    assert pg.query("SELECT * FROM ref.items ORDER BY id") == [
        (1, decimal.Decimal("1.50"), dt.date(2024, 1, 2), dt.datetime(2024, 1, 2, 3, 4, 5, 6), True, 0.25, "a", "x"),
        (2, None, None, None, False, None, None, "7")]


# -- incremental -------------------------------------------------------------------------------------------
def _orders(pg_url: str, ids: range, day: int) -> None:
    pg_exec(pg_url, "INSERT INTO crm.orders VALUES (%s, %s, %s)",
            many=[(i, f"o{i}", dt.datetime(2024, 1, day, tzinfo=UTC) + dt.timedelta(seconds=i)) for i in ids])


@pytest.mark.parametrize("source_kind", ["postgresql", "postgresql+pyodbc"])
def test_incremental_append_copies_each_new_row_once(db: Db, pg_source: str, source_kind: str) -> None:
    pg_exec(pg_source, "CREATE TABLE crm.orders (id bigint, name text, updated_at timestamptz)")
    req = PullRequest(source=_source_url(source_kind, pg_source), query="select * from crm.orders", table="orders",
                      mode="append", incremental="updated_at", name="orders_src")
    _orders(pg_source, range(1, 101), 1)
    assert pull(req, db.settings()).rows_loaded == 100
    assert pull(req, db.settings()).rows_loaded == 0  # nothing new: nothing doubled
    _orders(pg_source, range(101, 151), 2)
    third = pull(req, db.settings())
    assert third.status == "loaded" and third.rows_loaded == 50
    assert db.query("SELECT count(*), count(DISTINCT id) FROM ref.orders") == [(150, 150)]
    marks = [r["watermark"] for r in db.tracking() if r["status"] == "loaded"]
    assert marks[1] == marks[0] and '"2024-01-02 00:02:30' in marks[2]


def test_null_or_backwards_watermarks_fail_and_leave_everything(sqlite_db: Db, pg_source: str) -> None:
    pg_exec(pg_source, "CREATE TABLE crm.orders (id bigint, name text, updated_at timestamptz)")
    _orders(pg_source, range(1, 11), 5)
    req = PullRequest(source=pg_source, source_table="crm.orders", table="orders", mode="append",
                      incremental="updated_at")
    assert pull(req, sqlite_db.settings()).rows_loaded == 10
    pg_exec(pg_source, "INSERT INTO crm.orders VALUES (11, 'late', NULL)")
    nulls = pull(req, sqlite_db.settings())
    assert nulls.exit_code == 65 and "1 rows have NULL" in (nulls.error or "")
    assert "column 'updated_at'" in (nulls.error or "")
    pg_exec(pg_source, "DELETE FROM crm.orders WHERE updated_at IS NULL OR id > 3")
    back = pull(req, sqlite_db.settings())
    assert back.exit_code == 65 and "went backwards" in (back.error or "")
    assert sqlite_db.query("SELECT count(*) FROM ref.orders") == [(10,)]
    loaded = [r for r in sqlite_db.tracking() if r["status"] == "loaded"]
    assert len(loaded) == 1  # the watermark never moved


def test_a_failing_query_names_the_source_and_touches_nothing(sqlite_db: Db, pg_source: str) -> None:
    secret = pg_source.replace("postgres:@", "postgres:hunter2@")
    result = pull(PullRequest(source=secret, query="select nope from crm.missing", table="t"), sqlite_db.settings())
    assert result.status == "failed" and result.exit_code == 78
    assert "missing" in (result.error or "") and "hunter2" not in (result.error or "")
    assert "hunter2" not in str(sqlite_db.tracking())
    assert sqlite_db.tables("ref") == []


def test_an_unreachable_source_is_transient(sqlite_db: Db, tmp_path: Path) -> None:
    result = pull(PullRequest(source=f"postgresql://u:pw@/db?host={tmp_path}&connect_timeout=2", query="select 1",
                              table="t"), sqlite_db.settings())
    assert result.status == "failed" and result.transient and result.exit_code == 75


def test_sql_server_source_connects_through_mssql_python(sqlite_db: Db) -> None:
    """No SQL Server here: the driver gets as far as the TCP connect, which is refused; transient, redacted."""
    pytest.importorskip("mssql_python")
    result = pull(PullRequest(source="mssql+pyodbc://sa:Hunter2pw@127.0.0.1:1/db", query="select 1 as x", table="t"),
                  sqlite_db.settings())
    assert result.exit_code == 75 and result.transient and "out of reach" in (result.error or "")
    assert "Hunter2pw" not in (result.error or "") + str(sqlite_db.tracking())


# -- kill -9 between read and publish -------------------------------------------------------------------------
def _pull_process(target_url: str, source_url: str) -> subprocess.Popen[bytes]:
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    return subprocess.Popen([sys.executable, "-m", "loader.cli", "--db", target_url, "pull", "--source", source_url,
                             "--source-table", "crm.orders", "--table", "orders", "--mode", "append",
                             "--incremental", "updated_at", "--name", "orders_src"], env=env, cwd=ROOT,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)


@pytest.mark.parametrize("kind", ["postgresql+pyodbc", "postgresql"])
def test_kill_between_read_and_publish_then_rerun_loads_each_window_once(pg: Db, pg_source: str, kind: str) -> None:
    """A reader's lock on ref.orders holds the publish; the pull is killed there; a rerun loads the window once.

    postgresql+pyodbc stages first, so the kill falls between the read and the publish; postgresql appends
    straight into ref.orders inside the publish transaction, so the kill falls inside it."""
    target = pg if kind == "postgresql" else Db(kind, pg_odbc_url(pg.url), pg.workdir, read_url=pg.url)
    if kind != "postgresql":
        require_pg_odbc()
    pg_exec(pg_source, "CREATE TABLE crm.orders (id bigint, name text, updated_at timestamptz)")
    _orders(pg_source, range(1, 1001), 1)
    req = PullRequest(source=pg_source, source_table="crm.orders", table="orders", mode="append",
                      incremental="updated_at", name="orders_src")
    assert pull(req, target.settings()).rows_loaded == 1000
    _orders(pg_source, range(1001, 1501), 2)
    with psycopg.connect(pg.url) as blocker:
        blocker.execute("LOCK TABLE ref.orders IN ACCESS EXCLUSIVE MODE")
        proc = _pull_process(target.url, pg_source)
        try:
            _wait_for(lambda: _waiting_on_lock(pg) and (kind == "postgresql" or _staged_rows(pg) == 500), 60)
        finally:
            proc.send_signal(signal.SIGKILL)
            proc.wait(10)
        blocker.rollback()
    assert pg.query("SELECT count(*) FROM ref.orders") == [(1000,)]
    again = pull(req, target.settings())
    assert again.status == "loaded" and again.rows_loaded == 500, again.error
    assert pg.query("SELECT count(*), count(DISTINCT id), max(id) FROM ref.orders") == [(1500, 1500, 1500)]
    assert pull(req, target.settings()).rows_loaded == 0
    assert [r["status"] for r in pg.tracking()].count("loaded") == 3


def _waiting_on_lock(db: Db) -> bool:
    return bool(db.query("SELECT count(*) FROM pg_locks WHERE NOT granted")[0][0])


def _staged_rows(db: Db) -> int:
    stages = db.tables("stage")
    return db.query(f'SELECT count(*) FROM stage."{stages[0]}"')[0][0] if stages else -1


def _wait_for(check: Any, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with contextlib.suppress(Exception):
            if check():
                time.sleep(0.3)  # the COPY is in; the publish is waiting for the lock
                return
        time.sleep(0.1)
    raise AssertionError("the pull never reached its publish")


def test_incremental_merge_with_a_lookback_updates_late_rows_once(db: Db, pg_source: str) -> None:
    """Updated rows come again with a newer watermark; the look-back re-reads a window: merge takes both."""
    pg_exec(pg_source, "CREATE TABLE crm.orders (id bigint, name text, updated_at timestamptz)")
    _orders(pg_source, range(1, 11), 1)
    req = PullRequest(source=pg_source, source_table="crm.orders", table="orders", mode="merge", keys=("id",),
                      incremental="updated_at", lookback="1d", name="orders_merge")
    assert pull(req, db.settings()).rows_loaded == 10
    pg_exec(pg_source, "UPDATE crm.orders SET name = 'changed', updated_at = updated_at + interval '1 hour' "
                       "WHERE id <= 3")
    second = pull(req, db.settings())
    assert second.status == "loaded", second.error
    assert db.query("SELECT count(*), count(DISTINCT id) FROM ref.orders") == [(10, 10)]
    assert db.query("SELECT count(*) FROM ref.orders WHERE name = 'changed'") == [(3,)]
