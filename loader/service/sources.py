"""Database sources under `loader run`: when each one is due, and the job a worker runs for it.

A due source joins the same per-table queue as the files of its table (scheduler.py), so a pull
and a file load of one table never overlap, and it gets the same retries, database-down pause,
logs and tally. The timer is pure bookkeeping over wall-clock times (schedule.py decides the
times); it is told when each source last started, from the tracking table, so a service that
was down over a fire time runs that source once at start, not once per missed time.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import logging
from dataclasses import dataclass, field

from ..coltypes import Action, Status
from ..config import Settings, SourceSettings
from ..errors import EXIT_UNAVAILABLE
from ..routes import Destination
from ..schedule import make_schedule, next_run
from ..sources import pull, request_of
from .work import Outcome

log = logging.getLogger("loader.service")


def wall_now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


@dataclass
class Pull:
    """A source waiting or running in the scheduler; shaped like a File where the loop looks."""

    source: SourceSettings
    dest: Destination
    claimed: None = None  # nothing on disk to claim, move or give back
    started: dt.datetime | None = None

    @property
    def name(self) -> str:
        return f"source:{self.source.name}"

    @property
    def table(self) -> str:
        return f"{self.dest.schema}.{self.dest.table}"


@dataclass(frozen=True)
class PullJob:
    """What a worker runs for a source: picklable, with the same retry fields as a file's Job."""

    source: SourceSettings
    schema: str
    table: str
    settings: Settings
    attempt: int = 0
    last_try: bool = False

    @property
    def key(self) -> tuple[str, str]:
        return self.schema, self.table

    @property
    def path(self) -> str:
        return f"source:{self.source.name}"

    def run(self) -> Outcome:
        """work.process calls this for a source: one pull, its outcome in the file's vocabulary."""
        result = pull(request_of(self.source), self.settings)
        if result.status == Status.LOADED:
            return Outcome(self.path, Action.ARCHIVED, result)
        if result.transient and not self.last_try:
            action = Action.UNAVAILABLE if result.exit_code == EXIT_UNAVAILABLE else Action.RETRY
            return Outcome(self.path, action, result, reason=result.error)
        return Outcome(self.path, Action.FAILED, result, reason=result.error)


@dataclass
class SourceTimer:
    """Next run per source; a source is never queued twice while one run of it waits or runs."""

    sources: list[SourceSettings]
    once: bool = False  # `loader run --once`: each source runs at most once
    next: dict[str, dt.datetime | None] = field(default_factory=dict)
    queued: set[str] = field(default_factory=set)

    def start(self, last_starts: dict[str, dt.datetime | None], now: dt.datetime) -> None:
        for src in self.sources:
            self.next[src.name] = next_run(make_schedule(src.schedule, src.every), last_starts.get(src.name), now)

    def due(self, now: dt.datetime) -> list[SourceSettings]:
        out = [s for s in self.sources if s.name not in self.queued and (t := self.next.get(s.name)) and t <= now]
        self.queued.update(s.name for s in out)
        return out

    def done(self, src: SourceSettings, started: dt.datetime | None, now: dt.datetime) -> None:
        """The run ended (loaded, failed, given up): schedule the next from when this one started."""
        self.queued.discard(src.name)
        schedule = make_schedule(src.schedule, src.every)
        self.next[src.name] = None if self.once else next_run(schedule, started or now, now)


def pull_item(src: SourceSettings, default_schema: str) -> Pull:
    return Pull(src, Destination(src.schema or default_schema, src.table, src.mode))


def last_starts(settings: Settings) -> dict[str, dt.datetime | None]:
    """When each source last started, from the tracking table; an unreachable database knows nothing."""
    from ..targets import open_target

    out: dict[str, dt.datetime | None] = {}
    if not settings.sources:
        return out
    with contextlib.suppress(Exception):
        target = open_target(settings)
        try:
            target.ensure_ready()
            for src in settings.sources:
                row = target.tracker.last_run(src.name)
                out[src.name] = _aware(row["started_at"]) if row else None
        finally:
            target.close()
    return out


def _aware(value: object) -> dt.datetime | None:
    """Tracking timestamps are naive UTC (SQLite keeps them as ISO text)."""
    if value is None:
        return None
    stamp = value if isinstance(value, dt.datetime) else dt.datetime.fromisoformat(str(value))
    return stamp.replace(tzinfo=dt.UTC) if stamp.tzinfo is None else stamp
