"""The memory governor's decisions are pure; the measurement is psutil on this very process."""

from __future__ import annotations

import os

from loader.config import ServiceSettings
from loader.service.governor import LOAD_ESTIMATE_MB, budgets, kill_reason, may_start, over_share, rss_mb


def test_budgets_default_to_half_the_ram_and_an_equal_share() -> None:
    assert budgets(ServiceSettings(workers=4), total_mb=16_000) == (8_000, 2_000)
    assert budgets(ServiceSettings(workers=4, memory_mb=400), total_mb=16_000) == (400, LOAD_ESTIMATE_MB), \
        "a share is never below one load's estimate"
    assert budgets(ServiceSettings(workers=2, memory_mb=1000, worker_memory_mb=300), total_mb=1) == (1000, 300)


def test_one_file_always_runs_and_more_only_within_the_budget() -> None:
    assert may_start(rss_mb=10_000, running=0, budget_mb=100), "or nothing would ever load"
    assert may_start(rss_mb=700, running=1, budget_mb=700 + LOAD_ESTIMATE_MB)
    assert not may_start(rss_mb=701, running=1, budget_mb=700 + LOAD_ESTIMATE_MB)


def test_only_workers_above_their_share_are_named() -> None:
    assert over_share({1: 100, 2: 301, 3: 300}, share_mb=300) == {2: 301}
    assert kill_reason(301, 300) == ("worker exceeded its memory share: 301 MB RSS > 300 MB "
                                     "(service.worker_memory_mb)")


def test_rss_is_measured_and_vanished_processes_are_skipped() -> None:
    dead = 2**22 + 12345  # above the default pid_max (2**22): no such process
    measured = rss_mb([os.getpid(), dead])
    assert list(measured) == [os.getpid()] and measured[os.getpid()] > 10
