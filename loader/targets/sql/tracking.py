"""The tracking table's statements, written once and spelled per dialect by a small Flavor.

The queries are the same on every database; what differs is quoting, the placeholder, how
"the first n rows" is written and the earliest timestamp. Each dialect module builds its
TrackingSql from its Flavor, and tests parse every statement in that dialect.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from ...track import TRACKING_COLUMNS

SUMMARY_KEYS = ("status", "files", "rows", "files_recent", "rows_recent", "seconds_recent")


@dataclass(frozen=True)
class Flavor:
    quote: Callable[[str], str]
    mark: str  # the driver's placeholder: ? or %s
    top: str = ""  # SELECT {top} * …: T-SQL's TOP (?)
    limit: str = ""  # … ORDER BY x {limit}: LIMIT ?
    floor: str = "''"  # a timestamp before every finished_at (the duplicate check's "no full load yet")


@dataclass(frozen=True)
class TrackingSql:
    """Parameters of each statement are in the order its comment gives."""

    insert: str  # every TRACKING_COLUMNS value, in order
    update: str  # every column but load_id, then load_id
    duplicate: str  # schema, table, sha256, schema, table
    recent: str  # limit
    loads_of_file: str  # file_path
    unfinished: str  # none
    interrupted: str  # reason, finished_at, load_id
    summary: str  # window start, three times
    watermark: str  # route, schema, table: the newest committed watermark first
    last_run: str  # route: its newest row (a database source's last run)

    def all(self) -> list[str]:
        return [self.insert, self.update, self.duplicate, self.recent, self.loads_of_file, self.unfinished,
                self.interrupted, self.summary, self.watermark, self.last_run]


def tracking_sql(track: str, f: Flavor) -> TrackingSql:
    """`track` is the tracking table's qualified, quoted name."""
    names = [n for n, _ in TRACKING_COLUMNS]
    sets = ", ".join(f"{f.quote(n)} = {f.mark}" for n in names if n != "load_id")
    return TrackingSql(
        insert=f"INSERT INTO {track} ({', '.join(map(f.quote, names))}) VALUES ({', '.join([f.mark] * len(names))})",
        update=f"UPDATE {track} SET {sets} WHERE load_id = {f.mark}",
        duplicate=_duplicate(track, f),
        recent=f"SELECT {f.top}* FROM {track} ORDER BY started_at DESC{f.limit}",
        loads_of_file=f"SELECT * FROM {track} WHERE file_path = {f.mark} ORDER BY started_at",
        unfinished=f"SELECT * FROM {track} WHERE status = 'loading'",
        # the status condition makes a second caller a no-op
        interrupted=(f"UPDATE {track} SET status = 'failed', error = {f.mark}, finished_at = {f.mark}, "
                     f"rows_loaded = 0, rows_rejected = rows_read WHERE load_id = {f.mark} AND status = 'loading'"),
        summary=_summary(track, f.mark),
        watermark=_watermark(track, f),
        last_run=(f"SELECT {f.top.replace(f.mark, '1')}* FROM {track} WHERE route = {f.mark} "
                  f"ORDER BY started_at DESC{f.limit.replace(f.mark, '1')}"),
    )


def _watermark(track: str, f: Flavor) -> str:
    """Only a loaded row counts: a run that crashed or failed never moved the watermark."""
    m, one = f.mark, f.top.replace(f.mark, "1")
    return (f"SELECT {one}watermark FROM {track} WHERE route = {m} AND schema_name = {m} AND table_name = {m} "
            f"AND status = 'loaded' AND watermark IS NOT NULL "
            f"ORDER BY finished_at DESC, started_at DESC{f.limit.replace(m, '1')}")


def _duplicate(track: str, f: Flavor) -> str:
    """The same content loaded into the table's current version: since its last full load."""
    m = f.mark
    last_full = (f"SELECT max(finished_at) FROM {track} WHERE schema_name = {m} AND table_name = {m} "
                 "AND status = 'loaded' AND mode = 'fullload'")
    return (f"SELECT {f.top.replace(f.mark, '1')}load_id FROM {track} WHERE schema_name = {m} AND table_name = {m} "
            f"AND sha256 = {m} AND status = 'loaded' AND finished_at >= coalesce(({last_full}), {f.floor}) "
            f"ORDER BY finished_at DESC{f.limit.replace(f.mark, '1')}")


def _summary(track: str, p: str) -> str:
    """Counts per status, in total and in a recent window (one parameter, three times: the window start)."""
    return (f"SELECT status, count(*), coalesce(sum(rows_loaded), 0), "
            f"sum(CASE WHEN finished_at >= {p} THEN 1 ELSE 0 END), "
            f"coalesce(sum(CASE WHEN finished_at >= {p} THEN rows_loaded ELSE 0 END), 0), "
            f"coalesce(sum(CASE WHEN finished_at >= {p} THEN seconds ELSE 0 END), 0) "
            f"FROM {track} GROUP BY status ORDER BY status")
