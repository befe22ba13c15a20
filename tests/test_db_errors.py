"""Wrong database settings fail fast (78); only a server out of reach is waited for (69).

A wrong password, a missing database or role, or a bad sslmode never fix themselves: the CLI
exits 78 at once, and the service stops with 78 leaving the files where they are (never in
failed/: they are not at fault). The embedded server trusts every login, so a wrong password
cannot be shown against it: a missing role and a missing database stand in, both refused at
login like a bad password, and the password classification is tested on libpq's text.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import pytest

from loader.coltypes import Action
from loader.config import load_settings
from loader.errors import (
    EXIT_CONFIG,
    EXIT_UNAVAILABLE,
    ConfigError,
    DatabaseAccessError,
    DatabaseUnavailableError,
)
from loader.service import claim
from loader.service.scheduler import RetryPolicy, Scheduler, Step
from loader.service.work import Job, process
from loader.targets.odbc import MSSQL_CODES, odbc_error_class
from loader.targets.postgres import pg_error_class

from .service import FAST, FAST_ENV, drop, files_in

FAST_FAIL_S = 20  # far below any retry or pause: the wait loop did not run
SECRET = "s3cret-pw"


# -- pure: which errors are the settings' fault ------------------------------------------------
@pytest.mark.parametrize("message", [
    'connection failed: FATAL:  password authentication failed for user "u"',
    'connection failed: FATAL:  database "nosuchdb" does not exist',
    'connection failed: FATAL:  role "nobody" does not exist',
    'connection is bad: invalid sslmode value: "bogus"',
])
def test_wrong_settings_are_config_errors(message: str) -> None:
    cls = pg_error_class(None, message, link=True)  # libpq gives no SQLSTATE before the login
    assert issubclass(cls, ConfigError) and cls("x").exit_code == EXIT_CONFIG and not cls("x").transient


@pytest.mark.parametrize("sqlstate", ["28P01", "28000", "3D000"])
def test_login_sqlstates_are_config_errors(sqlstate: str) -> None:
    assert issubclass(pg_error_class(sqlstate, "", link=True), ConfigError)


@pytest.mark.parametrize("sqlstate, message", [
    (None, 'connection to server at "127.0.0.1", port 1 failed: Connection refused'),
    (None, "connection timeout expired"),
    (None, "failed to resolve host 'db.invalid': [Errno -2] Name or service not known"),
    ("57P03", "FATAL:  the database system is starting up"),
    (None, "FATAL:  the database system is shutting down"),
])
def test_unreachable_server_is_waited_for(sqlstate: str | None, message: str) -> None:
    cls = pg_error_class(sqlstate, message, link=True)
    assert cls is DatabaseUnavailableError and cls("x").exit_code == EXIT_UNAVAILABLE and cls("x").transient


@pytest.mark.parametrize("native", [18456, 4060])  # SQL Server: login failed, cannot open the database
def test_sql_server_login_failures_are_config_errors(native: int) -> None:
    cls = odbc_error_class("28000" if native == 18456 else "42000", [native], "Login failed", True, MSSQL_CODES)
    assert cls is DatabaseAccessError and issubclass(cls, ConfigError)


def test_scheduler_stops_on_config_without_counting_an_attempt() -> None:
    sched: Scheduler[str] = Scheduler(RetryPolicy(retry_max=1))
    sched.add(("ref", "t"), "a.csv", 0.0)
    sched.add(("ref", "t"), "b.csv", 1.0)
    item = sched.take(0.0)
    assert item is not None
    assert sched.settle(item, Action.CONFIG, 0.0) == (Step.STOP, 0.0)
    assert item.attempt == 0 and sched.queues[("ref", "t")][0] is item  # first in line after the fix


# -- the CLI against the real server --------------------------------------------------------------
def _with(url: str, **parts: str) -> str:
    return urlunsplit(urlsplit(url)._replace(**parts))


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _load(url: str, path: Path) -> tuple[int, str, float]:
    t0 = time.monotonic()
    proc = subprocess.run([sys.executable, "-m", "loader", "--db", url, "load", str(path)], capture_output=True,
                          text=True, timeout=120, env=os.environ | FAST_ENV)
    return proc.returncode, proc.stderr, time.monotonic() - t0


@pytest.fixture
def csv_file(tmp_path: Path) -> Path:
    path = tmp_path / "people.csv"
    path.write_text("id,name\n1,ann\n")
    return path


@pytest.mark.parametrize("kind, reason", [
    ("database", 'database "nosuchdb_x" does not exist'),
    ("role", 'role "nobody_x" does not exist'),
    ("sslmode", 'invalid sslmode value: "bogus"'),
])
def test_load_with_wrong_settings_exits_78_at_once(pg_server_url: str, csv_file: Path, kind: str,
                                                   reason: str) -> None:
    parts = urlsplit(pg_server_url)
    url = {"database": _with(pg_server_url, path="/nosuchdb_x"),
           "role": _with(pg_server_url, netloc=f"nobody_x:{SECRET}@" + parts.netloc.rpartition("@")[2]),
           "sslmode": _with(pg_server_url, query=parts.query + ("&" if parts.query else "") + "sslmode=bogus")}[kind]
    code, stderr, seconds = _load(url, csv_file)
    assert code == EXIT_CONFIG, stderr
    assert reason in stderr and seconds < FAST_FAIL_S
    assert SECRET not in stderr


def test_load_with_nothing_listening_exits_69(csv_file: Path) -> None:
    code, stderr, seconds = _load(f"postgresql://u:{SECRET}@127.0.0.1:{_free_port()}/db", csv_file)
    assert code == EXIT_UNAVAILABLE, stderr
    assert "Connection refused" in stderr and SECRET not in stderr and seconds < FAST_FAIL_S


# -- the service --------------------------------------------------------------------------------
def test_run_once_with_a_missing_database_exits_78_and_fails_no_file(pg_server_url: str, tmp_path: Path) -> None:
    root = tmp_path / "drop"
    drop(root, "t1__append__1.csv", 3)
    url = _with(pg_server_url, path="/nosuchdb_run")
    t0 = time.monotonic()
    proc = subprocess.run([sys.executable, "-m", "loader", "--db", url, "run", "--once", "--root", str(root), *FAST],
                          capture_output=True, text=True, timeout=120, env=os.environ | FAST_ENV)
    assert proc.returncode == EXIT_CONFIG, proc.stderr[-3000:]
    assert time.monotonic() - t0 < FAST_FAIL_S
    assert 'database "nosuchdb_run" does not exist' in proc.stderr
    assert files_in(root, "failed") == [] and files_in(root, "inbox") == ["t1__append__1.csv"]


def test_a_worker_that_cannot_open_the_database_leaves_the_claim(pg_server_url: str, tmp_path: Path) -> None:
    """The worker's side (the start check passed, the settings changed since): CONFIG, nothing moved."""
    root = tmp_path / "drop"
    drop(root, "t1__append__1.csv", 3)
    claimed = claim.claim(str(root), "t1__append__1.csv")
    assert claimed is not None
    url = _with(pg_server_url, path="/nosuchdb_worker")
    settings = load_settings(config_path=None, environ={}, dotenv_path=None, flags={"database.url": url})
    out = process(Job(str(claimed), str(root), "drop", "ref", "t1", "append", settings))
    assert out.action == Action.CONFIG and 'database "nosuchdb_worker" does not exist' in (out.reason or "")
    assert claimed.exists() and files_in(root, "failed") == []


def test_backfill_with_a_missing_database_exits_78(pg_server_url: str, tmp_path: Path) -> None:
    history = tmp_path / "history"
    history.mkdir()
    for day in ("20240101", "20240102"):
        (history / f"sales_{day}.csv").write_text("id,amount\n1,2.5\n")
    url = _with(pg_server_url, path="/nosuchdb_backfill")
    proc = subprocess.run([sys.executable, "-m", "loader", "--db", url, "backfill", "--table", "sales", "--workers",
                           "2", "--no-progress", "--json", str(history)], capture_output=True, text=True,
                          timeout=120, env=os.environ | FAST_ENV)
    assert proc.returncode == EXIT_CONFIG, proc.stderr[-3000:]
    assert '"failed": 0' in proc.stdout and '"not_started": 2' in proc.stdout
