"""The tracking store, once for every database: one row per file in the target database.

A Tracker runs its dialect's TrackingSql (targets/sql/tracking.py) on the target's control
session. Publish writes its final row through the same session inside its transaction, so
the record and the data commit together; every other call commits on its own.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable

from ..coltypes import DONE
from ..track import TRACKING_COLUMNS, LoadRecord, now
from .base import Session
from .claims import Claims, Lease
from .sql.tracking import SUMMARY_KEYS, QuerySql, TrackingSql


def as_is(value: object) -> object:
    return value


def update_params(rec: LoadRecord, adapt: Callable[[object], object] = as_is) -> list[object]:
    """In TrackingSql.update's order: every column but load_id, then load_id for the WHERE."""
    values = dict(zip([n for n, _ in TRACKING_COLUMNS], rec.values()))
    return [adapt(values[n]) for n, _ in TRACKING_COLUMNS if n != "load_id"] + [rec.load_id]


class Tracker:
    """record_start / record_end bracket a load; the rest is what the service and `status` read."""

    def __init__(self, session: Session, sql: TrackingSql, adapt: Callable[[object], object] = as_is,
                 claims: Claims | None = None):
        self.session, self.sql = session, sql
        self.adapt = adapt  # a value as the driver stores it (SQLite keeps timestamps as ISO text)
        self.claims = claims  # the leases of several hosts (PostgreSQL, SQL Server); None on SQLite
        self.lease: Lease | None = None  # set while a service's load runs: its publish is fenced by it

    def record_start(self, rec: LoadRecord) -> None:
        self.session.execute(self.sql.insert, [self.adapt(v) for v in rec.values()])

    def record_end(self, rec: LoadRecord) -> None:
        """A loaded (or duplicate) row under a lease first checks the lease, in the same transaction:
        a host that lost it raises LeaseLostError and its publish rolls back."""
        if self.lease is not None and self.claims is not None and rec.status in DONE:
            self.claims.fence(self.lease)
        self.session.execute(self.sql.update, update_params(rec, self.adapt))

    def find_duplicate(self, sha256: str, schema: str, table: str) -> str | None:
        """The load id of the same content already in the table's current version, if any."""
        rows = self.session.query(self.sql.duplicate, (schema, table, sha256, schema, table))
        return str(rows[0][0]) if rows else None

    def recent_loads(self, limit: int) -> list[dict[str, object]]:
        return self.session.dicts(self.sql.recent, (int(limit),))

    def loads_of_file(self, file_path: str) -> list[dict[str, object]]:
        """Every tracking row of one file path (a claim folder makes the path unique per claim)."""
        return self.session.dicts(self.sql.loads_of_file, (file_path,))

    def unfinished_loads(self) -> list[dict[str, object]]:
        """Rows still 'loading': live loads, or loads whose process died."""
        return self.session.dicts(self.sql.unfinished)

    def mark_interrupted(self, load_id: str, reason: str) -> bool:
        """'loading' -> 'failed' with the reason (the process that wrote it is gone); False if not loading."""
        return self.session.execute(self.sql.interrupted, (reason, self.adapt(now()), load_id)) > 0

    def last_watermark(self, route: str, schema: str, table: str) -> str | None:
        """The watermark committed with the newest loaded run of a source into schema.table (its JSON)."""
        rows = self.session.query(self.sql.watermark, (route, schema, table))
        return str(rows[0][0]) if rows else None

    def last_run(self, route: str) -> dict[str, object] | None:
        """A source's newest tracking row (status, rows, watermark), for `loader status`."""
        rows = self.session.dicts(self.sql.last_run, (route,))
        return rows[0] if rows else None

    def summary(self, since: dt.datetime) -> list[dict[str, object]]:
        """Per status: files and rows in total and since `since` (loader status)."""
        rows = self.session.query(self.sql.summary, (self.adapt(since),) * 3)
        return [dict(zip(SUMMARY_KEYS, r)) for r in rows]

    # -- what the HTTP interface reads ------------------------------------------------------------
    @property
    def queries(self) -> QuerySql:
        if self.sql.queries is None:  # a TrackingSql built by hand (tests): no reads beyond the above
            raise NotImplementedError("this TrackingSql has no QuerySql")
        return self.sql.queries

    def load_by_id(self, load_id: str) -> dict[str, object] | None:
        rows = self.session.dicts(self.queries.by_id, (load_id,))
        return rows[0] if rows else None

    def loads_page(self, route: str | None = None, status: str | None = None, since: dt.datetime | None = None,
                   before: tuple[dt.datetime, str] | None = None, limit: int = 50) -> list[dict[str, object]]:
        """Newest first; `before` is the (started_at, load_id) of the last row of the previous page."""
        at, load_id = before or (PAGE_CEILING, "~")  # "~" sorts after every hex load id
        params = (route, status, self.adapt(since) if since else None, self.adapt(at), self.adapt(at), load_id)
        if self.queries.flavor.top:  # T-SQL: TOP (?) comes first
            return self.session.dicts(self.queries.page, (int(limit),) + params)
        return self.session.dicts(self.queries.page, params + (int(limit),))

    def tables(self) -> list[tuple[str, str, int, object]]:
        """(schema, table, loads, last finished) of every table a file was loaded into."""
        return [(str(r[0]), str(r[1]), int(r[2]), r[3]) for r in self.session.query(self.queries.tables)]

    def backups(self, schema: str, table: str, keep: int) -> list[tuple[str, object]]:
        """The newest `keep` backups full loads made: pruning drops exactly the older ones."""
        if keep <= 0:
            return []
        rows = self._limited(self.queries.backups, keep, (schema, table))
        return [(str(r[0]), r[1]) for r in rows]

    def count_rows(self, schema: str, table: str) -> int:
        return int(self.session.query(self.queries.count(schema, table))[0][0])

    def throughput(self, since: dt.datetime, limit: int = 100_000) -> list[tuple[object, int, int]]:
        """(finished_at, rows, bytes) of files loaded since `since`, newest first, at most `limit`."""
        rows = self._limited(self.queries.throughput, limit, (self.adapt(since),))
        return [(r[0], int(str(r[1] or 0)), int(str(r[2] or 0))) for r in rows]

    def hosts(self, since: dt.datetime) -> list[tuple[object, ...]]:
        return [tuple(r) for r in self.session.query(self.queries.hosts, (self.adapt(since),))]

    def _limited(self, statement: str, limit: int, params: tuple[object, ...]) -> list[tuple[object, ...]]:
        """The limit goes first under T-SQL's TOP (?), last under LIMIT ?."""
        ordered = (int(limit),) + params if self.queries.flavor.top else params + (int(limit),)
        return [tuple(r) for r in self.session.query(statement, ordered)]


PAGE_CEILING = dt.datetime(9999, 12, 31)  # "before" of the first page: after every started_at

