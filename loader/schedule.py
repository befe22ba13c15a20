"""When a database source runs next: a cron expression or a fixed interval, and catch-up.

Pure functions of the schedule, the last run's start and the time now (all aware datetimes), so
every rule is tested with an injected clock. Cron expressions are parsed and stepped by
croniter (the library behind Airflow's and many schedulers' cron support; it knows ranges,
steps, names, `L`, and local-time DST gaps), not by a hand-written parser. Cron is read in the
host's local time, as cron itself does; intervals do not care.

Catch-up: when runs were missed (the service was down over one or more fire times), the source
runs once, now, not once per missed time; the next run is then the next fire time after now.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass

_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h|d|w)?\s*$")
_UNITS = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800, None: 1}


def parse_duration(text: str | float | int, what: str = "duration") -> float:
    """'15m', '2s', '1h', '1d', '90' (seconds) -> seconds; ValueError with the reason."""
    if isinstance(text, int | float) and not isinstance(text, bool):
        if text < 0:
            raise ValueError(f"{what} must be >= 0, got {text}")
        return float(text)
    m = _DURATION.match(str(text))
    if not m:
        raise ValueError(f"{what} {text!r} is not a duration like 30s, 15m, 1h, 1d")
    return float(m.group(1)) * _UNITS[m.group(2)]


@dataclass(frozen=True)
class Schedule:
    cron: str = ""  # five fields (croniter also takes six, with seconds)
    every_s: float = 0.0  # or a fixed interval

    @property
    def on_demand(self) -> bool:
        """Neither: the source runs only when asked (`loader pull --source-name`)."""
        return not self.cron and not self.every_s

    def describe(self) -> str:
        return f"cron {self.cron!r}" if self.cron else f"every {self.every_s:g}s" if self.every_s else "on demand"


def make_schedule(cron: str = "", every: str | float = "") -> Schedule:
    """Validated once at start; ValueError names what is wrong."""
    if cron and every:
        raise ValueError("give schedule (cron) or every (an interval), not both")
    if cron:
        from croniter import croniter

        if not croniter.is_valid(cron):
            raise ValueError(f"schedule {cron!r} is not a valid cron expression (e.g. '0 2 * * *')")
        return Schedule(cron=cron)
    if every not in ("", None):
        seconds = parse_duration(every, "every")
        if seconds <= 0:
            raise ValueError("every must be > 0")
        return Schedule(every_s=seconds)
    return Schedule()


def fire_after(schedule: Schedule, moment: dt.datetime) -> dt.datetime:
    """The first scheduled time strictly after `moment`."""
    if schedule.every_s:
        return moment + dt.timedelta(seconds=schedule.every_s)
    from croniter import croniter

    local = moment.astimezone()  # cron fields mean the host's wall clock
    nxt = croniter(schedule.cron, local).get_next(dt.datetime)
    return nxt.astimezone(moment.tzinfo)


def next_run(schedule: Schedule, last_start: dt.datetime | None, now: dt.datetime) -> dt.datetime | None:
    """When to run next. Never run: now. Missed one or more fire times: now, once. On demand: None."""
    if schedule.on_demand:
        return None
    if last_start is None:
        return now
    due = fire_after(schedule, last_start)
    return now if due <= now else due
