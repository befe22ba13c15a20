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
    queries: QuerySql | None = None  # what the HTTP interface reads (tracking_sql always sets it)

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
        queries=query_sql(track, f),
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


# -- what the HTTP interface reads: a load, a page of loads, tables, throughput, hosts ---------------
PAGE_COLUMNS = ("load_id", "file_path", "file_name", "size_bytes", "route", "schema_name", "table_name", "mode",
                "status", "rows_read", "rows_loaded", "rows_rejected", "backup_table", "started_at", "finished_at",
                "seconds", "host", "error", "error_line", "error_column", "rejects_file")


@dataclass(frozen=True)
class QuerySql:
    """Read-only statements; parameters in the order each comment gives. `count` builds one per table."""

    flavor: Flavor
    by_id: str  # load_id
    page: str  # route, status, since, before (timestamp, twice), before load_id, limit (TOP: first)
    tables: str  # none: (schema, table, loads, last finished_at) of every table with a loaded file
    # the limit is last (LIMIT ?), or first under T-SQL's TOP (?); Tracker._limited orders it
    backups: str  # schema, table, limit: the newest backups made by full loads
    throughput: str  # since, limit: (finished_at, rows_loaded, size_bytes) of loaded files
    hosts: str  # since: (host, last started_at, last finished_at, loads, loading)

    def count(self, schema: str, table: str) -> str:
        """Rows of one published table; both names are validated identifiers, quoted here."""
        return f"SELECT count(*) FROM {self.flavor.quote(schema)}.{self.flavor.quote(table)}"

    def all(self) -> list[str]:
        return [self.by_id, self.page, self.tables, self.backups, self.throughput, self.hosts, self.count("r", "t")]


def query_sql(track: str, f: Flavor) -> QuerySql:
    m, cols = f.mark, ", ".join(map(f.quote, PAGE_COLUMNS))
    return QuerySql(
        flavor=f,
        by_id=f"SELECT {cols} FROM {track} WHERE load_id = {m}",
        page=_page(track, cols, f),
        tables=(f"SELECT schema_name, table_name, count(*), max(finished_at) FROM {track} WHERE status = 'loaded' "
                "GROUP BY schema_name, table_name ORDER BY schema_name, table_name"),
        backups=(f"SELECT {f.top}backup_table, finished_at FROM {track} WHERE schema_name = {m} AND table_name = {m} "
                 f"AND status = 'loaded' AND backup_table IS NOT NULL ORDER BY finished_at DESC{f.limit}"),
        throughput=(f"SELECT {f.top}finished_at, rows_loaded, size_bytes FROM {track} WHERE status = 'loaded' "
                    f"AND finished_at >= {m} ORDER BY finished_at DESC{f.limit}"),
        hosts=(f"SELECT host, max(started_at), max(finished_at), count(*), "
               f"sum(CASE WHEN status = 'loading' THEN 1 ELSE 0 END) FROM {track} WHERE started_at >= {m} "
               "GROUP BY host ORDER BY host"),
    )


def _page(track: str, cols: str, f: Flavor) -> str:
    """Newest first, keyset-paged on (started_at, load_id); an absent filter is passed as NULL.

    `col = coalesce(?, col)` rather than `? IS NULL OR …`: PostgreSQL cannot type a bare NULL
    parameter, but infers it from the column here.
    """
    m = f.mark
    return (f"SELECT {f.top}{cols} FROM {track} WHERE route = coalesce({m}, route) "
            f"AND status = coalesce({m}, status) AND started_at >= coalesce({m}, started_at) "
            f"AND (started_at < {m} OR (started_at = {m} AND load_id < {m})) "
            f"ORDER BY started_at DESC, load_id DESC{f.limit}")
