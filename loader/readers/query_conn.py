"""Connections to database sources: the fastest Arrow-native reader per kind of database.

Every kind answers two questions, a few scalars (the watermark bounds) and a stream of Arrow
record batches, so the reader above never branches on the database:

| source URL | driver | why |
|---|---|---|
| `postgresql://…` | ADBC PostgreSQL | `COPY (query) TO STDOUT (FORMAT binary)` decoded in C++ straight into Arrow |
| `sqlite:///path` | ADBC SQLite | C into Arrow; opened read-only |
| `snowflake://…` | ADBC Snowflake | Arrow result chunks as Snowflake sends them (no row conversion) |
| `mssql+pyodbc://…`, `mssql://…` | mssql-python `arrow_reader` | Microsoft's, ODBC built in; else arrow-odbc |
| `postgresql+pyodbc://…`, `Driver=…;…` | arrow-odbc | column-wise ODBC bulk fetch into Arrow buffers, any ODBC driver |

Credentials stay inside the URL handed to the driver: messages name the source by its
redacted URL (config.redact_url) and never print a driver's connection string.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import decimal
from collections.abc import Sequence
from typing import Any, Protocol

import pyarrow as pa

from ..errors import EXIT_CONFIG, EXIT_TEMPFAIL, TerminalError, TransientError, UsageError, Where
from .query_sql import DIALECTS, SourceDialect

# Rows per Arrow batch asked of a source: ~8-30 MB for 20-column rows, enough that the per-batch
# cost (casting, handing over to the target's bulk path) stays under a few percent, small enough
# that a worker's memory stays flat whatever the source table's size.
SOURCE_BATCH_ROWS = 65_536


class SourceUnavailableError(TransientError):
    """The source cannot be reached or dropped the connection: the run is retried later (75).

    Not DatabaseUnavailableError: that one means the *target* is down and pauses every load."""

    exit_code = EXIT_TEMPFAIL


class SourceQueryError(TerminalError):
    """The source refused the query (syntax, a missing table or column, no permission): fix the config (78)."""

    exit_code = EXIT_CONFIG


class SourceConn(Protocol):
    dialect: SourceDialect

    def rows(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]: ...

    def batches(self, sql: str, params: Sequence[Any] = ()) -> pa.RecordBatchReader: ...

    def close(self) -> None: ...


def kind_of(url: str) -> str:
    """The driver family of a source URL (for messages and the choice of connection)."""
    if "://" not in url:
        if "=" in url and ";" in url:
            return "odbc"
        raise UsageError("a source must be a URL (postgresql://, sqlite:///, snowflake://, mssql+pyodbc://) "
                         "or an ODBC connection string (Driver=…;…)")
    scheme = url.split("://", 1)[0].lower()
    kinds = {"postgresql": "postgres", "postgres": "postgres", "sqlite": "sqlite", "snowflake": "snowflake",
             "mssql": "mssql", "mssql+pyodbc": "mssql", "mssql+mssql_python": "mssql",
             "postgresql+pyodbc": "odbc"}
    if scheme not in kinds:
        raise UsageError(f"source scheme {scheme!r} is not one of {', '.join(sorted(kinds))}")
    return kinds[scheme]


def connect(url: str, label: str) -> SourceConn:
    """An open connection to the source; `label` (the source's name or redacted URL) names it in errors."""
    kind = kind_of(url)
    try:
        if kind == "postgres":
            import adbc_driver_postgresql.dbapi as pg

            return AdbcConn(pg.connect(url, autocommit=True), DIALECTS["postgres"], label)
        if kind == "sqlite":
            return _sqlite(url, label)
        if kind == "snowflake":
            import adbc_driver_snowflake.dbapi as sf

            return AdbcConn(sf.connect(url.split("://", 1)[1], autocommit=True), DIALECTS["snowflake"], label)
        if kind == "mssql":
            return _mssql(url, label)
        return OdbcConn(_odbc_string(url), DIALECTS["odbc"], label)
    except ImportError as e:
        raise UsageError(f"source {label}: its driver is not installed ({e.name}); "
                         f"pip install 'loader[sources]'") from None
    except Exception as e:
        if isinstance(e, TerminalError | TransientError):
            raise
        raise source_error(e, label, connecting=True) from None


def _sqlite(url: str, label: str) -> SourceConn:
    import os

    import adbc_driver_sqlite.dbapi as sq

    path = url.split("sqlite:///", 1)[1] if url.startswith("sqlite:///") else ""
    if not path:
        raise UsageError(f"source {label}: expected sqlite:///path/to/file.db")
    if not os.path.isfile(path):
        raise SourceQueryError(f"source {label}: no such SQLite file {path}")
    return AdbcConn(sq.connect(f"file:{path}?mode=ro", autocommit=True), DIALECTS["sqlite"], label)


def _mssql(url: str, label: str) -> SourceConn:
    from ..targets.mssql_conn import parse_target

    conn = parse_target(url)
    try:
        import mssql_python
    except ImportError:
        return OdbcConn(conn.odbc_string(), DIALECTS["tsql"], label)
    return MssqlPythonConn(mssql_python.connect(conn.mssql_python_string(), autocommit=True), label)


def _odbc_string(url: str) -> str:
    if "://" not in url:
        return url
    from ..targets.pg_odbc import split_url

    # psqlODBC reports booleans as char unless told (BoolsAsChar), and text as LongVarChar cut at
    # MaxLongVarcharSize (8190 by default): read them as bit and as text of any length. ODBC has no
    # zoned timestamp: timestamptz arrives as the session's wall time, so the session is put in UTC.
    # UseDeclareFetch: a cursor fetched 10,000 rows at a time; without it psqlODBC holds the whole
    # result in memory (a 10M-row pull peaked at 4.8 GB RSS; with it, flat).
    return split_url(url)[1] + (";BoolsAsChar=0;MaxLongVarcharSize=1048576;UseDeclareFetch=1;Fetch=10000;"
                                "ConnSettings={SET TIME ZONE 'UTC'}")


def source_error(e: BaseException, label: str, connecting: bool = False) -> Exception:
    """A driver's exception as the loader's: lost or refused connections are transient, the rest is the query."""
    text = (str(e).strip().splitlines() or [type(e).__name__])[0]
    state = str(getattr(e, "sqlstate", "") or "")
    lost = connecting or state[:2] in ("08", "57", "53", "40") or any(
        w in text.lower() for w in ("connection", "connect", "timeout", "server closed", "terminat"))
    if lost and not any(w in text.lower() for w in ("password", "authentication", "permission", "does not exist")):
        return SourceUnavailableError(f"the source is out of reach: {text}", Where(file=label),
                                      sqlstate=state or None)
    return SourceQueryError(f"the source refused the query: {text}", Where(file=label), sqlstate=state or None)


class AdbcConn:
    """Any ADBC driver through its DB-API: parameters bound as typed Arrow values."""

    def __init__(self, conn: Any, dialect: SourceDialect, label: str):
        self.conn, self.dialect, self.label = conn, dialect, label
        self.cursor: Any = None

    def rows(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        with contextlib.closing(self.conn.cursor()) as cur:
            cur.execute(sql, parameters=tuple(params) or None)
            return [tuple(r) for r in cur.fetchall()] if cur.description else []

    def batches(self, sql: str, params: Sequence[Any] = ()) -> pa.RecordBatchReader:
        self.cursor = self.conn.cursor()
        if self.dialect.name == "sqlite":
            self.cursor.adbc_statement.set_options(**{"adbc.sqlite.query.batch_rows": str(SOURCE_BATCH_ROWS)})
        self.cursor.execute(sql, parameters=tuple(params) or None)
        return self.cursor.fetch_record_batch()

    def close(self) -> None:
        for thing in (self.cursor, self.conn):
            if thing is not None:
                with contextlib.suppress(Exception):
                    thing.close()


class OdbcConn:
    """arrow-odbc: any ODBC driver, fetched column-wise into Arrow buffers. Parameters go as text
    (arrow-odbc binds VARCHAR only); the database converts them where they are compared."""

    def __init__(self, odbc: str, dialect: SourceDialect, label: str):
        self.odbc, self.dialect, self.label = odbc, dialect, label

    def rows(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        table = pa.Table.from_batches(list(self.batches(sql, params)))
        return [tuple(r.values()) for r in table.to_pylist()]

    def batches(self, sql: str, params: Sequence[Any] = ()) -> pa.RecordBatchReader:
        from arrow_odbc import read_arrow_batches_from_odbc

        # 64 MiB of fetch buffers at most (a varchar(max) column would otherwise ask for gigabytes);
        # longer texts are cut by the driver, so max_text_size is set generously
        reader = read_arrow_batches_from_odbc(sql, self.odbc, batch_size=SOURCE_BATCH_ROWS,
                                              parameters=[as_param_text(p) for p in params],
                                              max_bytes_per_batch=64 << 20, max_text_size=1 << 20,
                                              login_timeout_sec=15)
        return pa.RecordBatchReader.from_batches(reader.schema, iter(reader))

    def close(self) -> None:
        return None


class MssqlPythonConn:
    """SQL Server through mssql-python: Arrow batches from the driver's own reader."""

    dialect = DIALECTS["tsql"]

    def __init__(self, conn: Any, label: str):
        self.conn, self.label = conn, label
        self.cursor: Any = None

    def rows(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        cur = self.conn.cursor()
        try:
            cur.execute(sql, *params)
            return [tuple(r) for r in cur.fetchall()] if cur.description else []
        finally:
            cur.close()

    def batches(self, sql: str, params: Sequence[Any] = ()) -> pa.RecordBatchReader:
        self.cursor = self.conn.cursor()
        self.cursor.execute(sql, *params)
        reader = self.cursor.arrow_reader(batch_size=SOURCE_BATCH_ROWS)
        return pa.RecordBatchReader.from_batches(reader.schema, iter(reader))

    def close(self) -> None:
        for thing in (self.cursor, self.conn):
            if thing is not None:
                with contextlib.suppress(Exception):
                    thing.close()


def as_param_text(value: Any) -> str | None:
    """A watermark as ODBC text: ISO dates and times, plain decimals (databases convert them exactly)."""
    if value is None:
        return None
    if isinstance(value, dt.datetime):
        return value.replace(tzinfo=None).isoformat(" ") if value.tzinfo is None else \
            value.astimezone(dt.UTC).replace(tzinfo=None).isoformat(" ")
    if isinstance(value, decimal.Decimal):
        return format(value, "f")
    return value.isoformat() if isinstance(value, dt.date) else str(value)

