"""Run `loader run` as a real process against real folders and databases, and look at the result."""

from __future__ import annotations

import contextlib
import csv
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from .conftest import Db

# short windows keep the suite fast; the logic is the same as with production values
FAST = ["--workers", "2", "--poll", "0.2", "--stable", "0.3", "--log-format", "json"]
FAST_ENV = {"LOADER_SERVICE__RETRY_BASE_S": "0.2", "LOADER_SERVICE__RETRY_CAP_S": "1",
            "LOADER_SERVICE__STOP_TIMEOUT_S": "60"}
REGEX_ROUTE = r"(?P<table>t\d+)__(?P<mode>fullload|append)__\d+\.csv"


def write_config(path: Path, root: Path, **extra: str) -> Path:
    lines = ["[[routes]]", 'name = "drop"', f'root = "{root}"', f"table_regex = '{REGEX_ROUTE}'"]
    lines += [f'{k} = "{v}"' for k, v in extra.items()]
    path.write_text("\n".join(lines) + "\n")
    return path


class Service:
    def __init__(self, db: Db, root: Path, *args: str, env: dict[str, str] | None = None, name: str = "service"):
        self.db, self.root, self.args, self.name = db, root, args, name
        self.env = os.environ | FAST_ENV | (env or {})
        self.logs: list[Path] = []
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> Service:
        log = self.root.parent / f"{self.name}-{len(self.logs)}.log"
        self.logs.append(log)
        with open(log, "wb") as out:
            self.proc = subprocess.Popen([sys.executable, "-m", "loader", "--db", self.db.url, "run", *self.args],
                                         stdout=out, stderr=subprocess.STDOUT, env=self.env, start_new_session=True)
        # signals before the handlers are installed would just kill it: wait for the start line
        wait_until(lambda: "service started" in log.read_text(errors="replace") or self.proc.poll() is not None,
                   60, "the service to start")
        return self

    @property
    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 60) -> int:
        assert self.proc is not None
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
        return self.proc.wait(timeout=timeout)

    def kill_group(self) -> None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.pid, signal.SIGKILL)

    def log(self) -> str:
        return "".join(p.read_text(errors="replace") for p in self.logs if p.exists())

    def __enter__(self) -> Service:
        return self.start()

    def __exit__(self, *exc: Any) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.kill_group()
            self.proc.wait()


def drop(root: Path, name: str, rows: int, start: int = 0) -> Path:
    """Write elsewhere, then rename into inbox/: how a well-behaved sender delivers a file."""
    scratch = root / "outgoing"
    scratch.mkdir(parents=True, exist_ok=True)
    tmp = scratch / name
    with open(tmp, "w", newline="") as f:
        w = csv.writer(f, lineterminator="\n")
        w.writerow(["id", "label", "amount"])
        w.writerows([i, f"row {i}", f"{i}.25"] for i in range(start, start + rows))
    (root / "inbox").mkdir(parents=True, exist_ok=True)
    dst = root / "inbox" / name
    os.rename(tmp, dst)
    return dst


def wait_until(check: Callable[[], Any], timeout: float, what: str, service: Service | None = None) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        if service is not None and service.proc is not None and service.proc.poll() is not None:
            raise AssertionError(f"the service exited ({service.proc.returncode}) while waiting for {what}:\n"
                                 f"{service.log()[-4000:]}")
        time.sleep(0.05)
    log = service.log()[-4000:] if service else ""
    raise AssertionError(f"timed out after {timeout}s waiting for {what}\n{log}")


def files_in(root: Path, folder: str) -> list[str]:
    base = root / folder
    return sorted(p.name for p in base.rglob("*") if p.is_file() and p.name != ".claim.lock") if base.exists() else []


def archived(root: Path) -> list[str]:
    return files_in(root, "archive")


def loaded_rows(db: Db) -> list[dict[str, Any]]:
    return [r for r in db.tracking() if r["status"] in ("loaded", "duplicate")]


@contextlib.contextmanager
def pg_lock(db: Db, table: str) -> Iterator[None]:
    """Hold a SHARE lock on ref.<table>: a publish (swap or insert) waits inside its transaction."""
    import psycopg

    conn = psycopg.connect(db.read_url or db.url)
    try:
        conn.execute(f"LOCK TABLE ref.{table} IN SHARE MODE")
        yield
    finally:
        conn.rollback()
        conn.close()


@contextlib.contextmanager
def sqlite_lock(db: Db) -> Iterator[None]:
    """Hold a read transaction on the ref file: a publish writes its journals, then waits to commit."""
    import sqlite3

    path = Path(db.url.split("sqlite:///", 1)[1]).with_suffix(".ref.db")
    conn = sqlite3.connect(path, isolation_level=None)
    try:
        conn.execute("BEGIN")
        conn.execute("SELECT count(*) FROM sqlite_master").fetchone()
        yield
    finally:
        conn.execute("ROLLBACK")
        conn.close()


def publishing(db: Db) -> bool:
    """Is a load waiting inside its publish transaction (blocked by our lock)?"""
    if db.kind == "sqlite":
        return Path(db.url.split("sqlite:///", 1)[1]).with_suffix(".ref.db-journal").exists()
    rows = db.query("SELECT count(*) FROM pg_stat_activity WHERE application_name = 'loader' "
                    "AND wait_event_type = 'Lock'")
    return rows[0][0] > 0


def bulk_loading(db: Db) -> bool:
    """Is a load in its bulk phase: a staging table exists, or (direct append) a COPY into ref runs?"""
    if db.staging_leftovers():
        return True
    if db.kind == "sqlite":
        return False
    rows = db.query("SELECT count(*) FROM pg_stat_activity WHERE application_name = 'loader' "
                    "AND query ILIKE 'COPY %%'")
    return rows[0][0] > 0


def signal_pid(pid: int, sig: int = signal.SIGKILL) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, sig)


def tracking(db: Db) -> list[dict[str, Any]]:
    """The tracking rows, or none before the service has created the database."""
    if db.kind == "sqlite" and not Path(db.url.split("sqlite:///", 1)[1]).exists():
        return []
    try:
        return db.tracking()
    except Exception as e:  # the service has not created the table yet
        if "does not exist" in str(e) or "no such table" in str(e):
            return []
        raise
