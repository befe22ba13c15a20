"""Database sources under `loader run`: a real service process, a SQLite file as the source."""

from __future__ import annotations

import contextlib
import sqlite3
import subprocess
import sys
from pathlib import Path

from .conftest import Db
from .service import FAST, Service, tracking, wait_until


def _source(path: Path, ids: range) -> None:
    with contextlib.closing(sqlite3.connect(path)) as conn:
        conn.execute("CREATE TABLE IF NOT EXISTS events (id INTEGER, what TEXT)")
        conn.executemany("INSERT INTO events VALUES (?, ?)", [(i, f"e{i}") for i in ids])
        conn.commit()


def _config(tmp_path: Path, schedule: str) -> Path:
    conf = tmp_path / "loader.toml"
    conf.write_text('[[sources]]\nname = "events_src"\nurl_env = "EVENTS_URL"\nsource_table = "events"\n'
                    f'table = "events"\nmode = "append"\nincremental = "id"\n{schedule}\n')
    return conf


def _runs(db: Db) -> list[dict[str, object]]:
    return [r for r in tracking(db) if r["route"] == "events_src"]


def test_a_source_every_2s_runs_repeatedly_and_copies_each_row_once(sqlite_db: Db, tmp_path: Path) -> None:
    src = tmp_path / "src.db"
    _source(src, range(1, 101))
    conf = _config(tmp_path, 'every = "2s"')
    root = tmp_path / "drop"
    root.mkdir()
    with Service(sqlite_db, root, "--config", str(conf), *FAST, env={"EVENTS_URL": f"sqlite:///{src}"}) as svc:
        wait_until(lambda: len(_runs(sqlite_db)) >= 1, 60, "the first run", svc)
        _source(src, range(101, 151))
        wait_until(lambda: sum(int(r["rows_loaded"] or 0) for r in _runs(sqlite_db)) >= 150, 60, "new rows", svc)
        wait_until(lambda: len(_runs(sqlite_db)) >= 3, 60, "a third run", svc)
        assert svc.stop() == 0
    assert sqlite_db.query("SELECT count(*), count(DISTINCT id) FROM ref.events") == [(150, 150)]
    runs = _runs(sqlite_db)
    assert all(r["status"] == "loaded" for r in runs)
    starts = sorted(str(r["started_at"]) for r in runs)
    assert len(set(starts)) == len(starts)  # one run at a time, never doubled
    assert "source:events_src" in svc.log()  # logged by its name; the URL stays in the environment


def test_missed_runs_catch_up_once_at_start(sqlite_db: Db, tmp_path: Path) -> None:
    src = tmp_path / "src.db"
    _source(src, range(1, 11))
    conf = _config(tmp_path, 'every = "1h"')
    env = {"EVENTS_URL": f"sqlite:///{src}"}

    def once() -> int:
        import os

        return subprocess.run([sys.executable, "-m", "loader", "--db", sqlite_db.url, "run", "--once", "--config",
                               str(conf), "--workers", "1"], env=os.environ | env, timeout=120).returncode

    assert once() == 0 and len(_runs(sqlite_db)) == 1  # never run: runs at start
    assert once() == 0 and len(_runs(sqlite_db)) == 1  # ran a moment ago, next in an hour: not due
    with contextlib.closing(sqlite3.connect(sqlite_db.url.split("sqlite:///", 1)[1])) as conn:
        conn.execute("UPDATE loader_files SET started_at = '2020-01-01 00:00:00'")  # down for years
        conn.commit()
    _source(src, range(11, 21))
    assert once() == 0
    runs = _runs(sqlite_db)
    assert len(runs) == 2 and runs[-1]["rows_loaded"] == 10  # thousands of missed hours: one run


def test_status_shows_each_source(sqlite_db: Db, tmp_path: Path) -> None:
    import json
    import os

    src = tmp_path / "src.db"
    _source(src, range(1, 6))
    conf = _config(tmp_path, 'every = "15m"')
    env = os.environ | {"EVENTS_URL": f"sqlite:///{src}"}
    base = [sys.executable, "-m", "loader", "--db", sqlite_db.url, "--config", str(conf)]
    assert subprocess.run([*base, "pull", "--source-name", "events_src"], env=env, timeout=120).returncode == 0
    out = subprocess.run([*base, "status", "--json", "--summary"], env=env, timeout=120, capture_output=True)
    (entry,) = json.loads(out.stdout)["sources"]
    assert entry["status"] == "loaded" and entry["rows"] == 5 and entry["watermark"] == "5"
    assert entry["next_run"] and entry["table"] == "ref.events"
