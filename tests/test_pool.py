"""The pool's real worker processes and the loop's waker, without a database."""

from __future__ import annotations

import os
import signal
import threading
import time
from multiprocessing.connection import Connection
from pathlib import Path

import pytest

from loader.coltypes import Action
from loader.config import load_settings
from loader.errors import EXIT_SOFTWARE, WorkerStartError
from loader.service import claim
from loader.service.pool import EarlyDeaths, InlinePool, ProcessPool
from loader.service.watch import Waker
from loader.service.work import Job


def job(path: Path) -> Job:
    settings = load_settings(config_path=None, environ={}, dotenv_path=None)
    return Job(str(path), str(path.parent), "test", "ref", "t", "fullload", settings)


def collect(pool: ProcessPool, timeout: float = 60) -> list:  # type: ignore[type-arg]
    deadline, done = time.monotonic() + timeout, []
    while not done and time.monotonic() < deadline:
        done = pool.wait(0.2)
    return done


def test_a_worker_answers_and_a_killed_one_is_replaced(tmp_path: Path) -> None:
    pool = ProcessPool(1)
    try:
        worker = pool.idle()
        assert worker is not None
        pool.submit(worker, job(tmp_path / "processing" / "c1" / "gone.csv"))
        [finished] = collect(pool)
        assert finished.outcome is not None and finished.outcome.action == Action.GONE
        assert finished.outcome.pid == worker.pid != os.getpid(), "it ran in the worker"
        old = worker.pid
        os.kill(old, signal.SIGKILL)
        worker.proc.join(10)
        assert pool.wait(0.1) == [] and pool.pids() != [old] and len(pool.pids()) == 1
    finally:
        pool.close()


def test_a_claim_locked_by_a_live_process_is_busy(tmp_path: Path) -> None:
    (tmp_path / "inbox").mkdir()
    (tmp_path / "inbox" / "a.csv").write_text("id\n1\n")
    path = claim.claim(str(tmp_path), "a.csv")
    assert path is not None
    fd = claim.lock_claim(path)
    pool = ProcessPool(1)
    try:
        worker = pool.idle()
        assert worker is not None
        pool.submit(worker, job(path))
        [finished] = collect(pool)
        assert finished.outcome is not None and finished.outcome.action == Action.BUSY
        assert pool.finished() == [] and path.exists(), "nothing else happened to the file"
    finally:
        assert fd is not None
        os.close(fd)
        pool.close()


def test_an_abort_never_runs_a_pending_inline_job(tmp_path: Path) -> None:
    pool = InlinePool()
    pool.submit(pool, job(tmp_path / "processing" / "c1" / "x.csv"))
    assert pool.finished() == [] and pool.busy()


def test_the_waker_can_be_set_from_a_signal_handler_while_the_loop_waits() -> None:
    """A threading.Event here deadlocks within a few thousand signals: the handler waits for a lock
    its own thread holds. A watchdog turns that hang into a failure: when the loop stops turning it
    sends SIGUSR1, whose handler raises inside the blocked set()."""
    waker, turns, stalled = Waker(), [0], threading.Event()

    def watchdog() -> None:
        last = -1
        while not stalled.wait(1.0):
            if turns[0] == last:
                stalled.set()
                os.kill(os.getpid(), signal.SIGUSR1)
            last = turns[0]

    def stuck(_signum: int, _frame: object) -> None:
        raise AssertionError(f"the loop stopped turning after {turns[0]} turns: set() blocked in a signal handler")

    previous = signal.signal(signal.SIGALRM, lambda _s, _f: waker.set()), signal.signal(signal.SIGUSR1, stuck)
    dog = threading.Thread(target=watchdog, daemon=True)
    dog.start()
    signal.setitimer(signal.ITIMER_REAL, 0.001, 0.001)  # 1 kHz
    try:
        t0 = time.monotonic()
        while time.monotonic() - t0 < 3:
            waker.clear()
            waker.wait(0.1)
            turns[0] += 1
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0, 0)
        stalled.set()
        dog.join()
        signal.signal(signal.SIGALRM, previous[0])
        signal.signal(signal.SIGUSR1, previous[1])
        waker.close()
    assert turns[0] > 1000, "every signal woke the wait"


def test_the_waker_wakes_a_wait_and_clears() -> None:
    waker = Waker()
    try:
        t0 = time.monotonic()
        assert not waker.wait(0.05) and time.monotonic() - t0 >= 0.04
        waker.set()
        waker.set()
        assert waker.wait(5) and waker.is_set()
        waker.clear()
        assert not waker.is_set() and not waker.wait(0)
    finally:
        waker.close()


def die_at_start(conn: Connection, log_level: int, json_logs: bool) -> None:
    """A worker target like a broken install's: it exits before serving anything."""
    os._exit(3)


def test_early_deaths_in_a_row_stop_and_a_completed_job_or_a_long_life_resets() -> None:
    early = EarlyDeaths(window_s=5, limit=3)
    early.died(0.5, 3)
    early.died(1.0, 3)
    early.completed()  # some worker finished a job: it is not the install
    early.died(0.5, 3)
    early.died(0.5, 3)
    early.died(60.0, -9)  # lived a minute: an ordinary crash, not a failed start
    early.died(0.5, 3)
    early.died(0.5, 3)
    with pytest.raises(WorkerStartError, match="exit code 3") as raised:
        early.died(0.5, 3)
    assert raised.value.exit_code == EXIT_SOFTWARE


def test_workers_that_die_at_start_are_not_respawned_forever() -> None:
    pool = ProcessPool(2, target=die_at_start)
    try:
        deadline = time.monotonic() + 60
        with pytest.raises(WorkerStartError, match="exit code 3"):
            while time.monotonic() < deadline:  # nothing submitted: idle deaths are noticed as well
                pool.wait(0.2)
    finally:
        pool.close()
