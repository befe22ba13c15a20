"""N long-lived worker processes, each running work.process on one file at a time.

Not concurrent.futures: the supervisor must see which process holds which file, measure
each one's memory, and stop one (memory governor, second signal) or survive one being
killed, without breaking the others' loads — a ProcessPoolExecutor breaks as a whole when
one worker dies. Processes are started with the spawn method (no inherited locks,
connections or threads); workers=1 runs the same function inline in the supervisor.
"""

from __future__ import annotations

import contextlib
import logging
import multiprocessing
import multiprocessing.connection
import os
import signal
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from multiprocessing.connection import Connection
from typing import Any

from .. import interrupts
from ..errors import WorkerStartError
from .work import Job, Outcome, close_kept, process

log = logging.getLogger("loader.pool")
# A worker that exits this soon after its start, this many times in a row with no job completed in
# between, is not unlucky: it cannot start (a broken install). Respawning it forever would spin.
EARLY_DEATH_S = 5.0
EARLY_DEATHS_MAX = 3


def _worker_main(conn: Connection, log_level: int, json_logs: bool) -> None:
    # Ctrl-C reaches the whole process group: only the supervisor decides what a signal means
    interrupts.block_in_worker()
    from .. import logs

    logs.setup("json" if json_logs else "human", verbose=False)
    logging.getLogger().setLevel(log_level)
    try:
        _serve(conn)
    finally:
        close_kept()  # the worker's kept connections end with it


def _serve(conn: Connection) -> None:
    while True:
        try:
            job = conn.recv()
        except (EOFError, OSError):
            return  # the supervisor is gone
        if job is None:
            return
        outcome = process(job)
        try:
            conn.send(outcome)
        except (BrokenPipeError, OSError):
            return


@dataclass
class Worker:
    proc: Any
    conn: Connection
    job: Job | None = None
    killed_for: str | None = None
    started: float = field(default_factory=time.monotonic)

    @property
    def pid(self) -> int:
        return int(self.proc.pid)


@dataclass
class Finished:
    job: Job
    outcome: Outcome | None  # None: the worker died (killed, crashed) before answering
    reason: str = ""
    pid: int = 0


@dataclass
class EarlyDeaths:
    """Counts workers that died within `window_s` of their start, in a row; any completed job resets it.

    A worker killed on purpose (governor, abort) is not counted: it did start.
    """

    window_s: float = EARLY_DEATH_S
    limit: int = EARLY_DEATHS_MAX
    count: int = 0

    def completed(self) -> None:
        self.count = 0

    def died(self, age_s: float, exit_code: int | None) -> None:
        """Book one death; WorkerStartError when it makes `limit` early ones in a row."""
        if age_s >= self.window_s:
            self.count = 0
            return
        self.count += 1
        if self.count >= self.limit:
            raise WorkerStartError(f"worker processes die at start: {self.count} in a row exited within "
                                   f"{self.window_s:.0f}s of starting (last exit code {exit_code}); the "
                                   "installation looks broken (see the worker's error above)")


@dataclass
class ProcessPool:
    size: int
    log_level: int = logging.WARNING
    json_logs: bool = False
    # what a worker process runs: the real one, or in tests one that dies at start
    target: Callable[[Connection, int, bool], None] = _worker_main
    workers: list[Worker] = field(default_factory=list)
    early: EarlyDeaths = field(default_factory=EarlyDeaths)

    def __post_init__(self) -> None:
        self.ctx = multiprocessing.get_context("spawn")
        for _ in range(self.size):
            self.workers.append(self._spawn())

    def _spawn(self) -> Worker:
        parent, child = self.ctx.Pipe()
        proc = self.ctx.Process(target=self.target, args=(child, self.log_level, self.json_logs),
                                name="loader-worker", daemon=True)
        proc.start()
        child.close()
        return Worker(proc, parent)

    def idle(self) -> Worker | None:
        return next((w for w in self.workers if w.job is None and w.proc.is_alive()), None)

    def busy(self) -> list[Worker]:
        return [w for w in self.workers if w.job is not None]

    def submit(self, worker: Worker, job: Job) -> None:
        worker.job = job
        worker.conn.send(job)

    def wait(self, timeout: float, wake: Any = None) -> list[Finished]:
        """Results and deaths within `timeout`; returns early when `wake` (anything with a fileno) is ready."""
        busy = self.busy()
        handles: list[Any] = [w.conn for w in busy] + [w.proc.sentinel for w in self.workers]
        ready = multiprocessing.connection.wait(handles + ([wake] if wake is not None else []), timeout=timeout)
        done: list[Finished] = []
        for i, w in enumerate(list(self.workers)):
            if w.job is not None and w.conn in ready:
                try:
                    outcome = w.conn.recv()
                except (EOFError, OSError):
                    outcome = None
                if outcome is not None:
                    done.append(Finished(w.job, outcome, pid=w.pid))
                    w.job = None
                    self.early.completed()
                    continue
            if not w.proc.is_alive():
                w.proc.join(0)
                if w.job is not None:
                    why = w.killed_for or f"worker {w.pid} died (exit code {w.proc.exitcode}) while loading"
                    done.append(Finished(w.job, None, why, w.pid))
                if w.killed_for is None:
                    self.early.died(time.monotonic() - w.started, w.proc.exitcode)  # raises: stop spawning
                log.warning("worker %s exited (code %s); starting a new one", w.pid, w.proc.exitcode)
                w.conn.close()
                self.workers[i] = self._spawn()
        return done

    def finished(self) -> list[Finished]:
        """Results already sent, without waiting (an abort must not kill a load that is over)."""
        return self.wait(0)

    def kill(self, worker: Worker, reason: str) -> None:
        worker.killed_for = reason
        if worker.proc.is_alive():
            os.kill(worker.pid, signal.SIGKILL)

    def pids(self) -> list[int]:
        return [w.pid for w in self.workers if w.proc.is_alive()]

    def close(self) -> None:
        for w in self.workers:
            with contextlib.suppress(OSError):
                w.conn.send(None)
        for w in self.workers:
            w.proc.join(timeout=5)
            if w.proc.is_alive():
                w.proc.kill()
                w.proc.join()


@dataclass
class InlinePool:
    """workers = 1: the same function, in the supervisor's own process (easy to debug)."""

    size: int = 1
    pending: Job | None = None

    def idle(self) -> Any:
        return self if self.pending is None else None

    def busy(self) -> list[Any]:
        return [self] if self.pending is not None else []

    def submit(self, worker: Any, job: Job) -> None:
        self.pending = job

    def wait(self, timeout: float, wake: Any = None) -> list[Finished]:
        if self.pending is None:
            return []
        job, self.pending = self.pending, None
        return [Finished(job, process(job), pid=os.getpid())]

    def finished(self) -> list[Finished]:
        return []  # a pending inline job has not run: running it now is not what an abort wants

    def kill(self, worker: object, reason: str) -> None:  # nothing to kill: the load runs in this process
        return None

    def pids(self) -> list[int]:
        return []

    def close(self) -> None:
        return None
