"""Ctrl-C as a terminal sends it: SIGINT to the whole process group of a command started with setsid.

Before the fix, the signal reached the database driver inside the workers (ADBC cancels the
running statement on SIGINT), so good files went to failed/ as bad data. Each test sends the
signal while a load is in its bulk phase, which is when the driver held it.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from loader.errors import EXIT_DATA, EXIT_INTERRUPTED, EXIT_OK

from .conftest import Db
from .files import write_numbers
from .service import FAST, FAST_ENV, Service, bulk_loading, drop, files_in, tracking, wait_until, write_config

BIG = 600_000  # rows: a load long enough to be caught in its bulk phase (about 2 s on SQLite)
INTO_THE_COPY = 0.25  # seconds after the staging table appears: the driver is streaming rows by then


def big(db: Db) -> int:
    """PostgreSQL's raw COPY takes 600,000 rows in half a second: give it more to chew on."""
    return BIG if db.kind == "sqlite" else 4 * BIG


def start(db: Db, *args: str, env: dict[str, str] | None = None) -> subprocess.Popen[str]:
    return subprocess.Popen([sys.executable, "-m", "loader", "--db", db.url, *args], text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, start_new_session=True,
                            env=os.environ | FAST_ENV | (env or {}))


def ctrl_c_while_loading(db: Db, proc: subprocess.Popen[str]) -> tuple[str, str]:
    wait_until(lambda: bulk_loading(db) or proc.poll() is not None, 120, "a load in its bulk phase")
    time.sleep(INTO_THE_COPY)
    assert proc.poll() is None, proc.communicate()
    os.killpg(proc.pid, signal.SIGINT)  # what a terminal does: the supervisor and every worker
    return proc.communicate(timeout=120)


def test_ctrl_c_on_the_service_drains_and_fails_no_file(db: Db, tmp_path: Path) -> None:
    root = tmp_path / "drop"
    conf = write_config(tmp_path / "loader.toml", root)
    for n in (1, 2):
        drop(root, f"t{n}__fullload__1.csv", rows=db.rows(BIG))
    # binary COPY from Arrow: the path on which the driver call runs on the worker's main thread
    with Service(db, root, "--config", str(conf), *FAST, env={"LOADER_DATABASE__RAW_COPY": "false"}) as svc:
        wait_until(lambda: bulk_loading(db), 120, "a load in its bulk phase", svc)
        time.sleep(INTO_THE_COPY)
        os.killpg(svc.pid, signal.SIGINT)
        assert svc.proc is not None and svc.proc.wait(timeout=120) == EXIT_OK, svc.log()[-3000:]
    assert files_in(root, "failed") == [], svc.log()[-3000:]
    assert "draining" in svc.log() and "signal again to abort" in svc.log()  # said at once, not a silent wait
    rows = tracking(db)
    assert rows and all(r["status"] == "loaded" for r in rows), [(r["status"], r["error"]) for r in rows]
    assert db.staging_leftovers() == []


def test_ctrl_c_on_loader_load_rolls_back_and_exits_130(db: Db, tmp_path: Path) -> None:
    small, large = tmp_path / "small.csv", tmp_path / "big.csv"
    write_numbers(small, rows=3)
    write_numbers(large, rows=big(db))
    first = subprocess.run([sys.executable, "-m", "loader", "--db", db.url, "load", str(small), "--table", "t"],
                           capture_output=True, text=True, timeout=120)
    assert first.returncode == EXIT_OK, first.stderr
    proc = start(db, "load", str(large), "--table", "t")
    _, err = ctrl_c_while_loading(db, proc)
    assert proc.returncode == EXIT_INTERRUPTED, err
    assert "interrupted" in err and "rolled back" in err and "Traceback" not in err
    assert db.query("SELECT count(*) FROM ref.t") == [(3,)]  # the previous version, untouched
    last = tracking(db)[-1]
    assert last["status"] == "failed" and "interrupted" in last["error"], last
    assert "refused" not in last["error"] and last["error_line"] is None  # never reported as bad data
    assert db.staging_leftovers() == []


def test_ctrl_c_on_backfill_finishes_running_loads_and_prints_the_summary(db: Db, tmp_path: Path) -> None:
    tree = tmp_path / "history"
    tree.mkdir()
    for day in range(1, 5):
        write_numbers(tree / f"sales_2024010{day}.csv", rows=db.rows(BIG), start=day * BIG)
    proc = start(db, "backfill", str(tree), "--table", "sales", "--mode", "append", "--workers", "2")
    _, err = ctrl_c_while_loading(db, proc)
    assert proc.returncode == EXIT_INTERRUPTED, err
    assert "backfill interrupted:" in err and "not started (run it again to resume)" in err, err
    assert "Traceback" not in err
    rows = tracking(db)
    assert rows and all(r["status"] == "loaded" for r in rows), [(r["status"], r["error"]) for r in rows]
    again = subprocess.run([sys.executable, "-m", "loader", "--db", db.url, "backfill", str(tree), "--table",
                            "sales", "--mode", "append"], capture_output=True, text=True, timeout=300)
    assert again.returncode == EXIT_OK, again.stderr
    assert db.query("SELECT count(*) FROM ref.sales") == [(4 * db.rows(BIG),)]


def test_backfill_stops_a_table_after_a_failed_file_and_resumes_there(sqlite_db: Db, tmp_path: Path) -> None:
    tree = tmp_path / "history"
    tree.mkdir()
    for day in range(1, 4):
        write_numbers(tree / f"sales_2024010{day}.csv", rows=10, start=day * 10)
    good = (tree / "sales_20240102.csv").read_text()
    (tree / "sales_20240102.csv").write_text(good.replace("\n22,", "\n22,oops,"))  # one ragged row
    args = ["--db", sqlite_db.url, "backfill", str(tree), "--table", "sales", "--mode", "append"]
    out = subprocess.run([sys.executable, "-m", "loader", *args], capture_output=True, text=True, timeout=120)
    assert out.returncode == EXIT_DATA, out.stderr
    assert "1 loaded" in out.stderr and "1 failed" in out.stderr and "1 not started" in out.stderr, out.stderr
    assert sqlite_db.query("SELECT count(*) FROM ref.sales") == [(10,)]  # no gap: day 3 waits for day 2
    (tree / "sales_20240102.csv").write_text(good)
    again = subprocess.run([sys.executable, "-m", "loader", *args], capture_output=True, text=True, timeout=120)
    assert again.returncode == EXIT_OK and "2 loaded, 1 already loaded" in again.stderr, again.stderr
    assert sqlite_db.query("SELECT count(*) FROM ref.sales") == [(30,)]


def test_backfill_of_a_missing_folder_is_no_input(sqlite_db: Db, tmp_path: Path) -> None:
    out = subprocess.run([sys.executable, "-m", "loader", "--db", sqlite_db.url, "backfill",
                          str(tmp_path / "nope")], capture_output=True, text=True, timeout=120)
    assert out.returncode == 66 and "no such folder" in out.stderr, out.stderr


def test_run_with_a_root_that_is_a_file_or_under_a_missing_folder_is_a_config_error(sqlite_db: Db,
                                                                                    tmp_path: Path) -> None:
    (tmp_path / "f").write_text("")
    for root in (tmp_path / "f", tmp_path / "missing" / "drop"):
        out = subprocess.run([sys.executable, "-m", "loader", "--db", sqlite_db.url, "run", "--root", str(root),
                              "--once"], capture_output=True, text=True, timeout=120)
        assert out.returncode == 78 and "route root" in out.stderr and "Traceback" not in out.stderr, out.stderr
    assert not (tmp_path / "missing").exists()
