"""The memory governor: no new file when the service is near its budget, no worker above its share.

RSS is measured with psutil (supervisor plus workers). The decisions are pure functions of the
figures, tested without processes; the measuring and the kill are thin wrappers around them.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterable
from dataclasses import dataclass

import psutil

from ..config import ServiceSettings
from .pool import ProcessPool

# A streaming load's growth over an idle worker (measured: 150-210 MB peak RSS with 1 MiB blocks,
# `python -m bench memory`): what the governor reserves before starting one more file.
LOAD_ESTIMATE_MB = 200
GOVERNOR_EVERY_S = 0.5  # how often worker memory is measured (psutil is cheap, but not free)


# -- pure decisions --------------------------------------------------------------------------------
def budgets(svc: ServiceSettings, total_mb: int) -> tuple[int, int]:
    """(whole service, one worker) in MB: half the RAM by default, an equal share per worker."""
    budget = svc.memory_mb or total_mb // 2
    return budget, svc.worker_memory_mb or max(LOAD_ESTIMATE_MB, budget // svc.workers)


def may_start(rss_mb: float, running: int, budget_mb: int) -> bool:
    """One more file fits: one file always runs (or nothing would ever load)."""
    return running == 0 or rss_mb + LOAD_ESTIMATE_MB <= budget_mb


def over_share(rss_mb_by_pid: dict[int, int], share_mb: int) -> dict[int, int]:
    return {pid: rss for pid, rss in rss_mb_by_pid.items() if rss > share_mb}


def kill_reason(rss_mb: int, share_mb: int) -> str:
    return f"worker exceeded its memory share: {rss_mb} MB RSS > {share_mb} MB (service.worker_memory_mb)"


# -- measuring and acting ---------------------------------------------------------------------------
def rss_mb(pids: Iterable[int]) -> dict[int, int]:
    """RSS in MB of the processes that still exist."""
    out = {}
    for pid in pids:
        with contextlib.suppress(psutil.Error):
            out[pid] = psutil.Process(pid).memory_info().rss >> 20
    return out


@dataclass
class Governor:
    budget_mb: int
    worker_mb: int
    next_check: float = 0.0

    @classmethod
    def of(cls, svc: ServiceSettings) -> Governor:
        return cls(*budgets(svc, psutil.virtual_memory().total >> 20))

    def allows(self, worker_pids: list[int], running: int) -> bool:
        if running == 0:
            return True  # skip measuring: the answer is yes
        return may_start(sum(rss_mb([os.getpid(), *worker_pids]).values()), running, self.budget_mb)

    def police(self, pool: ProcessPool, now: float) -> None:
        """Kill a busy worker over its share (its file is retried, then fails with the reason).

        Measured as soon as a worker is busy, then every GOVERNOR_EVERY_S: a clock that also ran while
        every worker was idle would let a load that starts just after a check run unmeasured for up to
        that long (a 300,000-row SQLite load took 366 ms here).
        """
        busy = {w.pid: w for w in pool.busy() if w.killed_for is None}
        if not busy:
            self.next_check = 0.0
            return
        if now < self.next_check:
            return
        self.next_check = now + GOVERNOR_EVERY_S
        for pid, rss in over_share(rss_mb(busy), self.worker_mb).items():
            pool.kill(busy[pid], kill_reason(rss, self.worker_mb))
