"""Readers during a swap, and loads in parallel processes, against the real databases."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
from pathlib import Path

from loader.errors import EXIT_OK, EXIT_TEMPFAIL
from loader.load import LoadRequest, load_file
from loader.targets import open_target

from .conftest import Db, mssql_reader, sqlite_reader
from .files import write_numbers


def run_cli(db: Db, *args: str, env: dict[str, str] | None = None) -> subprocess.Popen[str]:
    return subprocess.Popen([sys.executable, "-m", "loader", "--db", db.url, *args], text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=os.environ | (env or {}))


def _reader_loop(db: Db, stop: threading.Event, seen: list[object]) -> None:
    """Read ref.t as a user would, as fast as possible, until told to stop."""
    if db.kind == "sqlite":
        conn = sqlite_reader(db.url)
        query = conn.execute
    elif db.kind == "mssql":
        conn = mssql_reader(db.url)
        query = conn.cursor().execute
    else:
        import psycopg

        conn = psycopg.connect(db.read_url or db.url, autocommit=True)
        query = conn.execute
    try:
        while not stop.is_set():
            try:
                seen.append(tuple(query("SELECT count(*), sum(id) FROM ref.t").fetchone()))
            except Exception as e:  # any error is a reader seeing a missing table: record it
                seen.append(repr(e))
    finally:
        conn.close()


def test_readers_never_see_a_partial_or_missing_table(db: Db, tmp_path: Path) -> None:
    small, large = tmp_path / "small.csv", tmp_path / "large.csv"
    n_small, n_large = db.rows(30_000), db.rows(50_000)
    write_numbers(small, rows=n_small)
    write_numbers(large, rows=n_large, start=1_000_000)
    valid = {(n_small, sum(range(n_small))), (n_large, sum(range(1_000_000, 1_000_000 + n_large)))}
    settings = db.settings(backups_keep=1)
    assert load_file(LoadRequest(str(small), "t"), settings).exit_code == EXIT_OK
    stop, seen = threading.Event(), []
    reader = threading.Thread(target=_reader_loop, args=(db, stop, seen))
    reader.start()
    try:
        for i in range(6):
            result = load_file(LoadRequest(str(large if i % 2 == 0 else small), "t"), settings)
            assert result.exit_code == EXIT_OK, result.error
    finally:
        stop.set()
        reader.join()
    assert len(seen) > 10, "the reader must have read during the loads"
    assert set(seen) <= valid, f"reader saw {set(seen) - valid}"
    assert len(set(seen)) == 2, "the reader should have seen both versions"


def test_parallel_loads_into_different_tables(db: Db, tmp_path: Path) -> None:
    procs = []
    for name in ("alpha", "beta", "gamma"):
        path = tmp_path / f"{name}.csv"
        write_numbers(path, rows=db.rows(20_000))
        procs.append(run_cli(db, "load", str(path), "--table", name))
    for p in procs:
        out, err = p.communicate(timeout=120)
        assert p.returncode == EXIT_OK, err
    for name in ("alpha", "beta", "gamma"):
        assert db.query(f"SELECT count(*) FROM ref.{name}") == [(db.rows(20_000),)]


def test_a_busy_table_is_refused_with_a_clear_message(db: Db, tmp_path: Path) -> None:
    path = tmp_path / "f.csv"
    write_numbers(path, rows=10)
    target = open_target(db.settings())
    try:
        target.ensure_ready()
        with target.lock_table("ref", "t", wait_s=1):
            p = run_cli(db, "load", str(path), "--table", "t", env={"LOADER_LOAD__TABLE_WAIT_S": "0.5"})
            out, err = p.communicate(timeout=60)
    finally:
        target.close()
    assert p.returncode == EXIT_TEMPFAIL
    assert "ref.t is being loaded by another process" in err
    assert db.tracking()[-1]["status"] == "failed"


def test_loads_into_the_same_table_take_turns(db: Db, tmp_path: Path) -> None:
    paths = []
    for n in (1, 2):
        path = tmp_path / f"v{n}.csv"
        write_numbers(path, rows=db.rows(40_000) * n)
        paths.append(path)
    procs = [run_cli(db, "load", str(p), "--table", "t") for p in paths]
    for p in procs:
        out, err = p.communicate(timeout=120)
        assert p.returncode == EXIT_OK, err
    loads = [r for r in db.tracking() if r["status"] == "loaded"]
    assert len(loads) == 2
    first, second = sorted(loads, key=lambda r: str(r["finished_at"]))
    assert second["backup_table"], "the second publish must have backed up the first version"
    final = db.query("SELECT count(*) FROM ref.t")[0][0]
    backup = db.query(f"SELECT count(*) FROM {second['backup_table']}")[0][0]
    assert {final, backup} == {db.rows(40_000), db.rows(40_000) * 2}
    assert final == second["rows_loaded"]
    assert db.staging_leftovers() == []
