"""The supervisor's stop decisions, inline (workers = 1: no processes) and without a database."""

from __future__ import annotations

from pathlib import Path

import pytest

from loader import routes
from loader.config import RouteSettings, load_settings
from loader.errors import EXIT_OK, EXIT_SOFTWARE, EXIT_TEMPFAIL, WorkerStartError
from loader.service import claim
from loader.service.pool import ProcessPool
from loader.service.supervise import File, Supervisor

from .test_pool import die_at_start


def supervisor(tmp_path: Path) -> Supervisor:
    settings = load_settings(config_path=None, environ={"LOADER_SERVICE__WORKERS": "1"}, dotenv_path=None,
                             flags={"database.url": f"sqlite:///{tmp_path}/never-opened.db"})
    return Supervisor(settings, [RouteSettings(root=str(tmp_path / "drop"))])


def test_a_second_signal_after_the_drain_completed_exits_0(tmp_path: Path) -> None:
    s = supervisor(tmp_path)
    s._on_signal(15, None)
    s._on_signal(2, None)
    assert s.stop_requested == 2 and s._step() == EXIT_OK, "nothing was left to abort: the drain completed"
    assert not (tmp_path / "never-opened.db").exists()


def test_the_drain_waits_for_running_loads_until_a_second_signal(tmp_path: Path) -> None:
    s = supervisor(tmp_path)
    route = s.routes[0]
    item = s.sched.add(("ref", "t"), File(route, "gone.csv", routes.destination(route, "gone.csv", "ref")), 0.0)
    assert s.sched.take(0.0) is item
    s._on_signal(15, None)
    assert s._stopping(0.0) is None, "a load runs: the first signal waits for it"
    s._on_signal(2, None)
    assert s._stopping(0.0) == EXIT_OK, "its file is not in processing/: nothing was cut short"
    assert not s.sched.running


def test_an_abort_returns_a_claimed_file_that_never_committed_and_exits_75(tmp_path: Path) -> None:
    s = supervisor(tmp_path)
    route = s.routes[0]
    (tmp_path / "drop" / "inbox").mkdir(parents=True)
    (tmp_path / "drop" / "inbox" / "a.csv").write_text("id\n1\n")
    f = File(route, "a.csv", routes.destination(route, "a.csv", "ref"), claim.claim(route.root, "a.csv"))
    s.sched.add(("ref", "a"), f, 0.0)
    assert s.sched.take(0.0) is not None
    s._on_signal(15, None)
    s._on_signal(2, None)
    assert s._stopping(0.0) == EXIT_TEMPFAIL, "the tracking table (a real SQLite file) has no load of it"
    assert (tmp_path / "drop" / "inbox" / "a.csv").exists() and claim.claimed(route.root) == []


def test_workers_that_die_at_start_stop_the_service_loop_with_70(tmp_path: Path) -> None:
    s = supervisor(tmp_path)
    s.pool = ProcessPool(2, target=die_at_start)
    try:
        with pytest.raises(WorkerStartError) as raised:
            s._loop()  # it must not log and carry on: that would spawn workers forever
        assert raised.value.exit_code == EXIT_SOFTWARE
    finally:
        s.pool.close()
