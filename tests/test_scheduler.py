"""The scheduler without processes, files or a database: items and outcomes in, decisions out."""

from __future__ import annotations

import pytest

from loader.coltypes import Action
from loader.service.scheduler import BUSY_WAIT_S, RetryPolicy, Scheduler, Step, backoff

A, B = ("ref", "a"), ("ref", "b")


def sched(retry_max: int = 2) -> Scheduler[str]:
    return Scheduler(RetryPolicy(retry_max, base_s=1.0, cap_s=8.0), rand=lambda: 0.5)  # jitter factor 1.0


def drain(s: Scheduler[str], now: float) -> list[str]:
    out = []
    while (item := s.take(now)) is not None:
        out.append(item.payload)
    return out


def test_one_file_per_table_at_a_time_in_arrival_order() -> None:
    s = sched()
    for n, (key, name) in enumerate([(A, "a1"), (B, "b1"), (A, "a2"), (B, "b2")]):
        s.add(key, name, float(n))
    assert drain(s, 0.0) == ["a1", "b1"], "the head of each table, the oldest first; a2 waits for a1"
    s.settle(s.running_item(A), Action.ARCHIVED, 1.0)
    assert drain(s, 1.0) == ["a2"]
    assert s.take(1.0) is None and s.waiting() == 1


def test_a_retry_keeps_the_head_and_backs_off_exponentially() -> None:
    s = sched(retry_max=5)
    s.add(A, "a1", 0.0)
    s.add(A, "a2", 1.0)
    delays = []
    now = 0.0
    for _ in range(5):
        item = s.take(now)
        assert item is not None and item.payload == "a1", "a later file never overtakes a retry"
        step, delay = s.settle(item, Action.RETRY, now)
        assert step is Step.RETRY and item.recovered
        assert s.take(now + delay - 0.01) is None, "nothing of the table starts during the backoff"
        delays.append(delay)
        now += delay
    assert delays == [1.0, 2.0, 4.0, 8.0, 8.0], "doubling up to the cap"


def test_attempts_run_out_then_the_caller_gives_up() -> None:
    s = sched(retry_max=2)
    s.add(A, "a1", 0.0)
    now, steps = 0.0, []
    for _ in range(3):
        item = s.take(now)
        assert item is not None
        steps.append((s.last_try(item), s.settle(item, None, now)[0]))  # None: the worker died
        now += 100
    assert steps == [(False, Step.RETRY), (False, Step.RETRY), (True, Step.GIVE_UP)]
    assert s.idle(), "given up: the scheduler holds it no more"


def test_give_up_can_be_turned_into_one_more_wait() -> None:
    s = sched(retry_max=0)
    s.add(A, "a1", 0.0)
    item = s.take(0.0)
    assert item is not None and s.settle(item, Action.RETRY, 0.0)[0] is Step.GIVE_UP
    assert s.retry_later(item, 0.0) == 1.0 and s.take(0.5) is None and s.take(1.0) is item


def test_the_database_down_pauses_everything_without_counting_attempts() -> None:
    s = sched()
    s.add(A, "a1", 0.0)
    s.add(B, "b1", 1.0)
    item = s.take(0.0)
    assert item is not None
    step, delay = s.settle(item, Action.UNAVAILABLE, 0.0)
    assert (step, delay, item.attempt) == (Step.PAUSED, 1.0, 0)
    assert s.take(0.5) is None, "b1 waits too: the database is down for every table"
    assert s.take(1.0) is item, "a1 kept its place"
    assert s.settle(item, Action.UNAVAILABLE, 1.0) == (Step.PAUSED, 2.0), "the pause grows while it stays down"
    assert s.db_failures == 2
    item = s.take(3.0)
    assert item is not None and s.settle(item, Action.ARCHIVED, 3.0)[0] is Step.DONE
    assert s.db_failures == 0, "an archived file means the database answered"


def test_busy_waits_a_moment_and_is_no_attempt() -> None:
    s = sched()
    s.add(A, "a1", 0.0)
    item = s.take(0.0)
    assert item is not None
    assert s.settle(item, Action.BUSY, 0.0) == (Step.RETRY, BUSY_WAIT_S) and item.attempt == 0


@pytest.mark.parametrize("action", [Action.ARCHIVED, Action.FAILED, Action.GONE, Action.SKIPPED])
def test_ends_free_the_table(action: Action) -> None:
    s = sched()
    s.add(A, "a1", 0.0)
    s.add(A, "a2", 1.0)
    item = s.take(0.0)
    assert item is not None and s.settle(item, action, 0.0) == (Step.DONE, 0.0)
    assert drain(s, 0.0) == ["a2"]


def test_a_file_gone_before_its_claim_frees_the_table() -> None:
    s = sched()
    s.add(A, "a1", 0.0)
    s.add(A, "a2", 1.0)
    item = s.take(0.0)
    assert item is not None
    s.discard(item)
    assert drain(s, 0.0) == ["a2"]


def test_backoff_jitter_spans_half_to_one_and_a_half() -> None:
    assert backoff(3, 1.0, 30.0, rand=lambda: 0.0) == 2.0
    assert backoff(3, 1.0, 30.0, rand=lambda: 0.999) == pytest.approx(5.996)
    assert backoff(10, 1.0, 30.0, rand=lambda: 0.5) == 30.0


def test_a_table_another_host_holds_waits_at_the_head_without_counting_an_attempt() -> None:
    s = sched()
    s.add(A, "a1", 0.0)
    s.add(A, "a2", 1.0)
    item = s.take(0.0)
    assert item is not None and item.payload == "a1"
    s.defer(item, 0.0)  # the lease is another host's
    assert item.attempt == 0 and s.queued(item) and not s.running
    assert s.take(0.5) is None, "not before the busy wait"
    assert drain(s, BUSY_WAIT_S) == ["a1"], "still first: a2 does not overtake it"
    assert [i.payload for i in s.items()] == ["a1", "a2"]


def test_a_claim_found_late_goes_ahead_of_its_tables_queue() -> None:
    """A dead host's claim of table A arrived before every inbox file of A still queued."""
    s = sched()
    s.add(A, "a2", 5.0)
    s.add(A, "a1 (taken over)", 9.0, recovered=True, first=True)
    first = s.take(10.0)
    assert first is not None and first.payload == "a1 (taken over)" and first.recovered
    s.settle(first, Action.ARCHIVED, 10.0)
    assert not s.queued(first) and drain(s, 10.0) == ["a2"]
