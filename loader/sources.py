"""Pull a database source into a table: in full, or incrementally by a watermark column.

A pull is one load (load.load_source): the query reader (readers/query.py) streams the source's
rows into staging through the target's bulk path and the publish transaction writes the tracking
row. For an incremental pull that row also carries the new watermark, so data and watermark
commit together: a crash before the commit leaves the old watermark, and the re-run reads the
same window again; a crash after it finds the new one. No window is ever skipped or doubled.

The watermark is looked up by (source name, schema, table) under the table lock, from the
newest *loaded* row only: failed and interrupted runs never move it.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import decimal
from dataclasses import dataclass, field
from typing import Any

from .coltypes import Column, Mode
from .config import Settings, SourceSettings, redact_url
from .errors import ConfigError, UsageError
from .load import LoadRequest, LoadResult, load_source
from .naming import check_identifier
from .readers import ReadOptions
from .readers.query import FORMAT, QuerySpec, parse_watermark, source_input, watermark_json
from .readers.query_conn import kind_of
from .schedule import make_schedule, parse_duration
from .targets import Target
from .track import LoadRecord

CLI_ROUTE = "pull"  # the route of `loader pull --source URL` without --name


@dataclass(frozen=True)
class PullRequest:
    source: str  # the source URL: a secret, never printed (label is)
    table: str
    mode: str = Mode.FULLLOAD
    query: str = ""
    source_table: str = ""
    incremental: str | None = None
    lookback: str = ""  # merge: '1h' for time watermarks, a number for integer ones
    keys: tuple[str, ...] = ()
    name: str = CLI_ROUTE
    schema: str = ""  # empty: schemas.ref
    column_types: dict[str, str] = field(default_factory=dict)

    @property
    def label(self) -> str:
        return self.name if self.name != CLI_ROUTE else redact_url(self.source)


def request_of(src: SourceSettings) -> PullRequest:
    """A configured source as a pull request (the service and `pull --source-name`)."""
    return PullRequest(source=src.url, table=src.table, mode=src.mode, query=src.query,
                       source_table=src.source_table, incremental=src.incremental or None, lookback=src.lookback,
                       keys=tuple(src.key), name=src.name, schema=src.schema)


def check_source(src: SourceSettings) -> None:
    """What config validation checks for a [[sources]] table (UsageError/ConfigError with the reason)."""
    if not src.name:
        raise ConfigError("name is missing")
    if not src.url:
        raise ConfigError("url_env is missing: the environment or .env variable that holds the source URL")
    try:
        make_schedule(src.schedule, src.every)
    except ValueError as e:
        raise ConfigError(str(e)) from None
    if src.schema:
        check_identifier(src.schema, "schema")
    check_request(request_of(src))


def check_request(req: PullRequest) -> None:
    """Refuse what cannot work before connecting to anything."""
    kind_of(req.source)
    if bool(req.query) == bool(req.source_table):
        raise UsageError("give the source's rows as a query or as a source table, exactly one of them")
    if not req.table:
        raise UsageError("the target table is missing (--table)")
    check_identifier(req.table, "table name")
    modes = [str(m) for m in Mode]
    if req.mode not in modes:
        raise UsageError(f"mode {req.mode!r} is not one of {', '.join(modes)}")
    if req.mode == "merge" and not req.keys:
        raise UsageError("merge needs the key columns (--key id)")
    if req.lookback:
        if req.mode != "merge":
            raise UsageError("a look-back re-reads rows already loaded: only merge can take them twice")
        if not req.incremental:
            raise UsageError("a look-back needs a watermark column (--incremental)")


def pull(req: PullRequest, settings: Settings) -> LoadResult:
    """One run of a source; never raises for the source's or the database's faults (see LoadResult)."""
    check_request(req)
    settings = _pull_settings(settings, req.schema)
    spec = QuerySpec(url=req.source, label=req.label, query=req.query, table=req.source_table,
                     watermark=req.incremental)
    options = ReadOptions(format=FORMAT, column_types=dict(req.column_types), extra={"query": spec},
                          block_size=settings.load.block_size)
    source = source_input(f"source:{req.label}")
    load = LoadRequest(source.path, req.table, req.mode, force=True, route=req.name, keys=req.keys)
    return load_source(load, settings, source, options, lambda target, rec: _window(req, target, rec, options))


def _pull_settings(settings: Settings, schema: str) -> Settings:
    """A source's types are exact: a value that does not fit fails the run (nothing is set aside)."""
    load = dataclasses.replace(settings.load, bad_rows="reject_file", type_mismatch="reject")
    schemas = dataclasses.replace(settings.schemas, ref=schema) if schema else settings.schemas
    return dataclasses.replace(settings, load=load, schemas=schemas)


def _window(req: PullRequest, target: Target, rec: LoadRecord, options: ReadOptions) -> None:
    """Under the table lock: the committed watermark becomes the window's lower bound."""
    spec: QuerySpec = options.extra["query"]
    if req.incremental is None:
        return
    last = parse_watermark(target.tracker.last_watermark(rec.route, rec.schema_name, rec.table_name))
    if last is not None and last[0] != req.incremental:
        raise UsageError(f"source {req.label}: the watermark column was {last[0]!r} and is now "
                         f"{req.incremental!r}; a fullload pull starts the new column over")
    full = req.mode == Mode.FULLLOAD
    old = None if full or last is None else last[2]
    lower = None if old is None else _minus(old, req.lookback, req.label)
    options.extra["query"] = dataclasses.replace(spec, lower=lower,
                                                 on_high=lambda col, high: _record(rec, col, old, high))


def _record(rec: LoadRecord, col: Column | None, old: Any, high: Any) -> None:
    """The watermark the publish commits: the largest value read, never below the last one."""
    newest = high if old is None or (high is not None and high > old) else old
    rec.watermark = watermark_json(col, newest) if col is not None and newest is not None else None


def _minus(value: Any, lookback: str, label: str) -> Any:
    """The watermark moved back by the look-back: a duration for times, a count for numbers."""
    if not lookback:
        return value
    if isinstance(value, dt.date) and not isinstance(value, dt.datetime):
        return value - dt.timedelta(days=max(1, round(parse_duration(lookback) / 86400)))
    if isinstance(value, dt.datetime):
        return value - dt.timedelta(seconds=parse_duration(lookback, "lookback"))
    try:
        return value - type(value)(decimal.Decimal(lookback))
    except (decimal.InvalidOperation, ValueError):
        raise UsageError(f"source {label}: lookback {lookback!r} must be a number for a numeric watermark") from None
