"""Several supervisors on one drop folder and one database, as several hosts run them: every file
loaded exactly once, through kill -9, a pause past the lease, and per-table order (real processes)."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import psutil
import pytest

from .conftest import Db
from .service import (
    FAST,
    Service,
    archived,
    bulk_loading,
    drop,
    files_in,
    loaded_rows,
    pg_lock,
    publishing,
    tracking,
    wait_until,
    write_config,
)

pytestmark = pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning")
LEASE = {"LOADER_SERVICE__LEASE_S": "3"}  # a dead host's files are taken over after 3 s


def _idle(root: Path) -> bool:
    return not files_in(root, "inbox") and not files_in(root, "processing")


def _hosts(db: Db, root: Path, cfg: Path, n: int) -> list[Service]:
    return [Service(db, root, "--config", str(cfg), *FAST, env=LEASE, name=f"host{i}") for i in range(n)]


def _drop_batch(root: Path, first: int, count: int, tables: int, expected: dict[str, list[int]]) -> None:
    for seq in range(first, first + count):
        table = f"t{seq % tables:02d}"
        mode = "fullload" if (seq % tables) % 2 == 0 else "append"
        drop(root, f"{table}__{mode}__{seq:03d}.csv", rows=20, start=seq * 1000)
        expected.setdefault(table, []).append(seq * 1000)


def _exactly_once(db: Db, root: Path, expected: dict[str, list[int]]) -> None:
    files = sum(len(v) for v in expected.values())
    rows = loaded_rows(db)
    assert len(rows) == files and {r["status"] for r in rows} == {"loaded"}
    assert len({r["file_name"] for r in rows}) == files, "every file loaded exactly once"
    for i, (table, starts) in enumerate(sorted(expected.items())):
        count, distinct, low = db.query(f"SELECT count(*), count(DISTINCT id), min(id) FROM ref.{table}")[0]
        if i % 2 == 0:  # fullload: the last file dropped wins, since files of a table load in order
            assert (count, low) == (20, starts[-1]), f"{table}: the last version"
        else:
            assert count == distinct == 20 * len(starts), f"append table {table}: every file once, no duplicates"
    assert db.staging_leftovers() == []
    assert files_in(root, "failed") == [] and _idle(root)
    assert len(archived(root)) == files


def _claims(db: Db) -> list[tuple[str, str]]:
    return [(str(r[0]), str(r[1])) for r in db.query("SELECT claim_key, owner FROM loader.loader_claims")]


def _owner_pid(owner: str) -> int:
    return int(owner.split(":")[-2])


def test_three_hosts_load_300_files_for_10_tables_exactly_once(hosts_db: Db, tmp_path: Path) -> None:
    db, root = hosts_db, tmp_path / "drop"
    cfg = write_config(tmp_path / "loader.toml", root)
    expected: dict[str, list[int]] = {}
    services = _hosts(db, root, cfg, 3)
    try:
        for svc in services:
            svc.start()
        for batch in range(6):
            _drop_batch(root, batch * 50, 50, 10, expected)
            time.sleep(0.3)
        wait_until(lambda: len(archived(root)) == 300 and _idle(root), 300, "300 files archived", services[0])
        hosts_loading = {r["pid"] for r in loaded_rows(db)}
        for svc in services:
            assert svc.stop() == 0
    finally:
        for svc in services:
            svc.kill_group()
    _exactly_once(db, root, expected)
    assert len(hosts_loading) > 2, "the work was shared, not done by one host"
    assert _claims(db) == [], "a clean stop releases every claim"


def test_kill_9_of_a_host_mid_load_the_others_finish_its_file_after_the_lease(hosts_db: Db, tmp_path: Path) -> None:
    db, root = hosts_db, tmp_path / "drop"
    cfg = write_config(tmp_path / "loader.toml", root)
    a, b, c = _hosts(db, root, cfg, 3)
    expected: dict[str, list[int]] = {}
    try:
        a.start()
        drop(root, "t01__append__000.csv", rows=db.rows(150_000), start=10_000_000)
        wait_until(lambda: bulk_loading(db), 60, "host 0's bulk load", a)
        b.start()
        c.start()
        a.kill_group()  # the supervisor and its workers: no heartbeat any more, nobody releases
        a.proc.wait()  # type: ignore[union-attr]
        _drop_batch(root, 1, 29, 10, expected)
        wait_until(lambda: "t01__append__000.csv" in archived(root) and len(archived(root)) == 30 and _idle(root),
                   180, "every file archived, the dead host's too", b)
        assert b.stop() == 0 and c.stop() == 0
    finally:
        for svc in (a, b, c):
            svc.kill_group()
    history = tracking(db)
    big = [r for r in history if r["file_name"] == "t01__append__000.csv"]
    assert [r["status"] for r in big].count("loaded") == 1, "the dead host's file loaded once"
    assert not [r for r in history if r["status"] == "loading"], "the dead host's load is failed, not left loading"
    count, distinct = db.query("SELECT count(*), count(DISTINCT id) FROM ref.t01")[0]
    assert count == distinct == db.rows(150_000) + 20 * len(expected["t01"]), "no duplicate appended rows"
    expected["t01"].insert(0, 10_000_000)
    rows = loaded_rows(db)
    assert len(rows) == 30 and len({r["file_name"] for r in rows}) == 30
    assert db.staging_leftovers() == [] and files_in(root, "failed") == []


def test_a_dead_hosts_older_file_loads_before_a_newer_one_of_its_table(hosts_db: Db, tmp_path: Path) -> None:
    """Host 0 dies publishing version 1 of a fullload table while host 1 already waits with version 2:
    after the lease, version 1 is loaded first, so version 2 (the newer) is what the table holds."""
    db, root = hosts_db, tmp_path / "drop"
    if db.kind != "postgresql":
        pytest.skip("holding a lock on the table from the test is written for PostgreSQL")
    cfg = write_config(tmp_path / "loader.toml", root)
    a, b = _hosts(db, root, cfg, 2)
    try:
        a.start()
        drop(root, "t00__fullload__000.csv", rows=3, start=100)
        wait_until(lambda: "t00__fullload__000.csv" in archived(root), 60, "version 0", a)
        with pg_lock(db, "t00"):  # host 0's publish of version 1 waits on it
            drop(root, "t00__fullload__001.csv", rows=50, start=1_000)
            wait_until(lambda: publishing(db), 60, "host 0's publish", a)
            b.start()
            drop(root, "t00__fullload__002.csv", rows=7, start=5)
            time.sleep(1.0)  # host 1 has it queued (stable 0.3 s, poll 0.2 s), behind host 0's lease
            a.kill_group()
            a.proc.wait()  # type: ignore[union-attr]
        wait_until(lambda: len(archived(root)) == 3 and _idle(root), 120, "every version archived", b)
        assert b.stop() == 0
    finally:
        for svc in (a, b):
            svc.kill_group()
    assert db.query("SELECT count(*), min(id) FROM ref.t00") == [(7, 5)], "the newer version wins"
    loaded = [r["file_name"] for r in tracking(db) if r["status"] == "loaded"]
    assert loaded == ["t00__fullload__000.csv", "t00__fullload__001.csv", "t00__fullload__002.csv"], loaded


@pytest.mark.parametrize("phase", ["bulk", "publish"])
def test_a_host_paused_past_its_lease_does_not_publish(hosts_db: Db, tmp_path: Path, phase: str) -> None:
    """SIGSTOP of a host in its bulk load, or inside its publish transaction (waiting on a lock we hold);
    another takes the file over after the lease; SIGCONT: the paused host's publish is fenced (rolled
    back) and it leaves the file alone; the file is loaded once, by the other host."""
    db, root = hosts_db, tmp_path / "drop"
    if phase == "publish" and db.kind != "postgresql":
        pytest.skip("holding a lock on the table from the test is written for PostgreSQL")
    cfg = write_config(tmp_path / "loader.toml", root)
    a, b = _hosts(db, root, cfg, 2)
    name, rows = "t01__append__001.csv", db.rows(150_000)
    try:
        a.start()
        drop(root, "t01__append__000.csv", rows=10, start=-100)  # the table exists: appends go straight in
        wait_until(lambda: "t01__append__000.csv" in archived(root), 60, "the first file", a)
        with pg_lock(db, "t01") if phase == "publish" else contextlib.nullcontext():
            drop(root, name, rows=rows)
            busy = publishing if phase == "publish" else bulk_loading
            wait_until(lambda: busy(db), 60, f"host 0's {phase}", a)
            a_pids = {a.pid} | {p.pid for p in psutil.Process(a.pid).children(recursive=True)}
            os.killpg(a.pid, signal.SIGSTOP)
            try:
                b.start()
                wait_until(lambda: any(_owner_pid(o) == b.pid for k, o in _claims(db) if k == "ref.t01"), 60,
                           "host 1 to take the table over after the lease", b)
            except BaseException:
                os.killpg(a.pid, signal.SIGCONT)
                raise
        time.sleep(0.5)
        os.killpg(a.pid, signal.SIGCONT)
        wait_until(lambda: name in archived(root) and _idle(root), 120, "the file archived", b)
        wait_until(lambda: "passed to another host" in a.log(), 60, "host 0 to see it lost the file", a)
        assert a.stop() == 0 and b.stop() == 0
    finally:
        for svc in (a, b):
            with contextlib.suppress(ProcessLookupError):
                os.killpg(svc.pid, signal.SIGCONT)
            svc.kill_group()
    loaded = [r for r in tracking(db) if r["status"] == "loaded" and r["file_name"] == name]
    assert len(loaded) == 1 and int(loaded[0]["pid"]) not in a_pids, "loaded once, by the host that took over"
    assert db.query("SELECT count(*), count(DISTINCT id) FROM ref.t01")[0] == (rows + 10, rows + 10)
    assert db.staging_leftovers() == [] and files_in(root, "failed") == []


def test_a_second_service_on_one_sqlite_database_refuses_to_start(sqlite_db: Db, tmp_path: Path) -> None:
    root = tmp_path / "drop"
    cfg = write_config(tmp_path / "loader.toml", root)
    first = Service(sqlite_db, root, "--config", str(cfg), *FAST, name="first").start()
    try:
        second = Service(sqlite_db, root, "--config", str(cfg), *FAST, name="second")
        second.start()
        assert second.proc is not None and second.proc.wait(timeout=60) == 78
        text = second.log()
        assert "another loader service already runs on this SQLite database" in text
        assert f"pid {first.pid}" in text and "PostgreSQL or SQL Server" in text
        drop(root, "t00__fullload__001.csv", rows=5)  # the first one is not disturbed
        wait_until(lambda: "t00__fullload__001.csv" in archived(root), 60, "the first service's load", first)
        assert first.stop() == 0
    finally:
        first.kill_group()


def _status(db: Db, *args: str) -> str:
    out = subprocess.run([sys.executable, "-m", "loader", "--db", db.url, "status", *args], capture_output=True,
                         text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    return out.stdout


def test_status_shows_which_host_loads_what_and_claims_whose_lease_ran_out(pg: Db, tmp_path: Path) -> None:
    db, root = pg, tmp_path / "drop"
    cfg = write_config(tmp_path / "loader.toml", root)
    (a,) = _hosts(db, root, cfg, 1)
    name = "t01__append__001.csv"
    try:
        a.start()
        drop(root, "t01__append__000.csv", rows=5)
        wait_until(lambda: "t01__append__000.csv" in archived(root), 60, "the first file", a)
        with pg_lock(db, "t01"):  # the next load waits in its publish: its claim stays
            drop(root, name, rows=100)
            wait_until(lambda: publishing(db), 60, "the publish", a)
            text = _status(db)
            host = socket.gethostname()
            assert f"ref.t01 claimed: {name} by {host} pid {a.pid}" in text, text
            assert f"host {host} pid {a.pid}: last heartbeat" in text, text
            a.kill_group()
            a.proc.wait()  # type: ignore[union-attr]
        time.sleep(3.5)  # the lease
        text = _status(db)
        assert f"ref.t01 claim expired, to be taken over: {name}" in text, text
        assert f"pid {a.pid}: last heartbeat" in text and "(no heartbeat since: expired)" in text, text
        claims = json.loads(_status(db, "--json", "--summary"))["claims"]
        assert [(c["file_name"], c["expired"]) for c in claims if c["claim_key"] == "ref.t01"] == [(name, 1)]
    finally:
        a.kill_group()
