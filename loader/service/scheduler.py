"""Which file loads next: per-table queues in arrival order, retries, the database-down pause.

One implementation for `loader run` and `loader backfill`. It is pure bookkeeping — no
processes, no files, no database — so it is tested by feeding it items and outcomes with an
injected clock. Files of one table load one at a time, in order (a later fullload must win, an
append must not overtake the one before it); tables run in parallel, the oldest head first.
A retry keeps its place at the head of its table's queue, so the files behind it keep waiting.
"""

from __future__ import annotations

import random
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from enum import Enum
from typing import Generic, TypeVar

from ..coltypes import Action

P = TypeVar("P")
Key = tuple[str, str]  # (schema, table): the unit of serialisation
# Another live process holds the claim or the table: it is likely done within a second, and a
# shorter wait only spins the loop; this is not a failure, so it never counts as an attempt.
BUSY_WAIT_S = 1.0


@dataclass(frozen=True)
class RetryPolicy:
    retry_max: int = 5  # attempts after the first before a file fails
    base_s: float = 1.0  # first delay; doubles each attempt
    cap_s: float = 60.0  # longest delay, also between probes of a database that is down


def backoff(attempt: int, base_s: float, cap_s: float, rand: Callable[[], float] = random.random) -> float:
    """Exponential with full jitter in [0.5, 1.5): many workers retrying never march in step."""
    return min(cap_s, base_s * (2 ** max(0, attempt - 1))) * (0.5 + rand())


@dataclass
class Item(Generic[P]):
    """One file waiting or loading; `payload` is what the caller needs to build its job."""

    key: Key
    payload: P
    arrival: float
    attempt: int = 0  # failed attempts so far
    not_before: float = 0.0  # clock time before which it must not start (backoff)
    recovered: bool = False  # tried before (crash, retry): the worker looks for an earlier outcome


class Step(Enum):
    """What the caller does after an outcome was settled."""

    DONE = "done"  # the file reached its end (archive, failed, gone, skipped): count it
    RETRY = "retry"  # back at the head of its queue after a backoff
    PAUSED = "paused"  # the database is down: nothing starts until the pause ends
    GIVE_UP = "give_up"  # attempts exhausted: the caller fails the file (or calls retry_later)
    STOP = "stop"  # the database settings are wrong: every file would fail alike; the caller stops (78)


_ENDS = (Action.ARCHIVED, Action.FAILED, Action.GONE, Action.SKIPPED, Action.LOST)


class Scheduler(Generic[P]):
    def __init__(self, policy: RetryPolicy, rand: Callable[[], float] = random.random):
        self.policy, self.rand = policy, rand
        self.queues: dict[Key, deque[Item[P]]] = {}
        self.running: dict[Key, Item[P]] = {}
        self.paused_until = 0.0
        self.db_failures = 0  # consecutive 'unavailable' outcomes; the pause grows with them

    # -- in -----------------------------------------------------------------------------------
    def add(self, key: Key, payload: P, arrival: float, recovered: bool = False, first: bool = False) -> Item[P]:
        """`first`: ahead of the table's queue (a claim found late that arrived before every file queued)."""
        item = Item(key, payload, arrival, recovered=recovered)
        queue = self.queues.setdefault(key, deque())
        if first:
            queue.appendleft(item)
        else:
            queue.append(item)
        return item

    # -- out ----------------------------------------------------------------------------------
    def take(self, now: float) -> Item[P] | None:
        """The next file to start, now marked running; None when nothing may start yet."""
        if now < self.paused_until:
            return None
        heads = [q[0] for key, q in self.queues.items() if q and key not in self.running]
        ready = [h for h in heads if h.not_before <= now]
        if not ready:
            return None
        item = min(ready, key=lambda h: h.arrival)
        self.queues[item.key].popleft()
        self.running[item.key] = item
        return item

    def drop(self, key: Key) -> list[Item[P]]:
        """The files still queued for a table, taken out: they will not start (backfill's stop policy)."""
        return list(self.queues.pop(key, ()))

    def drop_all(self) -> list[Item[P]]:
        """Everything queued, taken out (a stop): what is running is left to finish."""
        return [item for key in list(self.queues) for item in self.drop(key)]

    def running_item(self, key: Key) -> Item[P]:
        return self.running[key]

    def discard(self, item: Item[P]) -> None:
        """Taken but never started (the file vanished before its claim): forget it."""
        self.running.pop(item.key, None)

    def defer(self, item: Item[P], now: float) -> None:
        """Taken, but another host holds its table: back at the head, not an attempt, tried again soon."""
        self.running.pop(item.key, None)
        self._requeue(item, now, BUSY_WAIT_S)

    def queued(self, item: Item[P]) -> bool:
        """Still waiting in its table's queue (a retry), as opposed to done with."""
        return any(i is item for i in self.queues.get(item.key, ()))

    def items(self) -> list[Item[P]]:
        """Everything queued or running."""
        return [*self.running.values(), *(i for q in self.queues.values() for i in q)]

    def last_try(self, item: Item[P]) -> bool:
        """A transient failure on this attempt fails the file instead of asking for a retry."""
        return item.attempt >= self.policy.retry_max

    # -- outcomes -----------------------------------------------------------------------------
    def settle(self, item: Item[P], action: Action | None, now: float) -> tuple[Step, float]:
        """Book an outcome (None: the worker died); returns the step and, for RETRY/PAUSED, the delay."""
        self.running.pop(item.key, None)
        if action in _ENDS:
            if action == Action.ARCHIVED:
                self.db_failures = 0  # it answered
            return Step.DONE, 0.0
        item.recovered = True
        if action == Action.UNAVAILABLE:
            return Step.PAUSED, self._pause(item, now)
        if action == Action.CONFIG:  # not the file's fault and not an attempt: it waits for the fix
            self.queues.setdefault(item.key, deque()).appendleft(item)
            return Step.STOP, 0.0
        if action == Action.BUSY:
            return Step.RETRY, self._requeue(item, now, BUSY_WAIT_S)
        item.attempt += 1  # RETRY, or the worker died
        if item.attempt > self.policy.retry_max:
            return Step.GIVE_UP, 0.0
        return Step.RETRY, self.retry_later(item, now)

    def retry_later(self, item: Item[P], now: float) -> float:
        """Back to the head of its queue after the backoff of its attempt count."""
        return self._requeue(item, now, self._backoff(item.attempt))

    def _pause(self, item: Item[P], now: float) -> float:
        """Nothing is counted as an attempt: the file is not at fault; dispatch waits and probes."""
        self.db_failures += 1
        delay = self._backoff(self.db_failures)
        self.paused_until = now + delay
        self.queues.setdefault(item.key, deque()).appendleft(item)
        return delay

    def _requeue(self, item: Item[P], now: float, delay: float) -> float:
        item.not_before = now + delay
        self.queues.setdefault(item.key, deque()).appendleft(item)
        return delay

    def _backoff(self, attempt: int) -> float:
        return backoff(attempt, self.policy.base_s, self.policy.cap_s, self.rand)

    # -- what is left -------------------------------------------------------------------------
    def waiting(self) -> int:
        return sum(len(q) for q in self.queues.values())

    def idle(self) -> bool:
        """Nothing queued and nothing running."""
        return not self.running and not self.waiting()
