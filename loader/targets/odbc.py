"""The pyodbc `fast_executemany` writer, written once for any ODBC driver.

It is the bulk path that always works (SQL Server through Microsoft's driver; PostgreSQL
through psqlODBC in CI). Encoding and shipping are separate: `to_rows` and `input_sizes`
are pure and tested without a database; `write` sends bounded chunks.

What the known fast_executemany pitfalls turn into here:
- Types are never guessed from the first row (a NULL there used to bind everything as
  text): every parameter is declared with `setinputsizes` from the column's logical type,
  which is also what keeps psqlODBC from truncating timestamps to whole seconds and keeps
  decimals at their full precision.
- pyodbc allocates the whole parameter array up front, rows x the declared width: text is
  declared as wide as the widest value of the Arrow batch (never a blanket MAX size), and a
  chunk holds only as many rows as fit in CHUNK_BYTES.
- One INSERT with one row of parameters executed as an array: the 2,100-parameter limit of
  multi-row VALUES lists never applies (a table has at most 1,024 columns on SQL Server).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from ..coltypes import Column
from ..errors import (
    ConfigError,
    DatabaseAccessError,
    DatabaseFailedError,
    DatabaseRefusedError,
    DatabaseUnavailableError,
    LoaderError,
    TableBusyError,
)
from .base import RowLocator, batches_of
from .sqlstate import sqlstate_class

# Rows per executemany: bulk tools (bcpandas, Sling) report 5-50k rows as the useful range; 10k keeps a failed chunk's
# bisection (log2 ~ 14 probes) cheap and psqlODBC's row-at-a-time execution responsive.
CHUNK_ROWS = 10_000
# Parameter-array budget per chunk (bytes pyodbc allocates before sending): a file with
# 1 MB text values gets chunks of a few dozen rows instead of gigabytes (pyodbc#547, #802).
CHUNK_BYTES = 64 << 20

# ODBC SQL type codes (sql.h / sqlext.h); pyodbc exports most but not all under these names.
SQL_BIT, SQL_BIGINT, SQL_DOUBLE, SQL_DECIMAL = -7, -5, 8, 3
SQL_TYPE_DATE, SQL_TYPE_TIMESTAMP, SQL_WVARCHAR = 91, 93, -9
# Fixed buffer bytes per value for the chunk budget (value + length/indicator word).
_FIXED_BYTES = {"bigint": 16, "float": 16, "boolean": 9, "decimal": 48, "date": 14, "timestamp": 24,
                "timestamptz": 24}

NO_CODES: Mapping[int, type[LoaderError]] = {}
# SQL Server native error numbers that say more than their SQLSTATE (sys.messages).
MSSQL_CODES: dict[int, type[LoaderError]] = {
    1105: DatabaseFailedError,  # could not allocate space: filegroup full
    9002: DatabaseFailedError,  # transaction log full
    701: DatabaseFailedError,  # insufficient system memory
    18456: DatabaseAccessError,  # login failed
    229: DatabaseAccessError,  # permission denied on an object
    262: DatabaseAccessError,  # permission denied in database (CREATE TABLE …)
    4060: DatabaseAccessError,  # cannot open the database requested by the login
    1205: TableBusyError,  # deadlock victim: the publish is retried, not failed
    1222: TableBusyError,  # lock request timeout
}
Size = tuple[int, int, int]  # (SQL type, column size, decimal digits) for setinputsizes
# pyodbc ends each diagnostic record with "(<native error>) (SQLExecDirectW)"; only that place counts,
# never a number in parentheses inside the message (a value can be "(1205)").
_NATIVE = re.compile(r"\((\d+)\)\s*(?:\(SQL\w+\)\s*)?(?:;|$)", re.MULTILINE)


def text_width(arr: pa.Array | pa.ChunkedArray) -> int:
    """Widest value in UTF-16 code units, bounded above by its UTF-8 byte length (never below)."""
    if len(arr) == 0 or arr.null_count == len(arr):
        return 1
    return max(1, int(pc.max(pc.binary_length(arr)).as_py()))


def input_sizes(columns: Sequence[Column], widths: Sequence[int]) -> list[Size]:
    """setinputsizes for one batch: the SQL type from the logical type, text as wide as its widest value."""
    sizes: list[Size] = []
    for col, width in zip(columns, widths):
        t = col.type
        sizes.append({
            "bigint": (SQL_BIGINT, 19, 0),
            "float": (SQL_DOUBLE, 15, 0),
            "boolean": (SQL_BIT, 1, 0),
            "decimal": (SQL_DECIMAL, t.precision or 38, t.scale or 0),
            "date": (SQL_TYPE_DATE, 10, 0),
            # 26 characters with 6 fractional digits: microseconds, as Arrow timestamp("us") holds
            "timestamp": (SQL_TYPE_TIMESTAMP, 26, 6),
            # sent as naive UTC (see _pylist): the target's session or column type supplies the zone
            "timestamptz": (SQL_TYPE_TIMESTAMP, 26, 6),
            "text": (SQL_WVARCHAR, width, 0),
        }[t.kind])
    return sizes


def chunk_rows(columns: Sequence[Column], widths: Sequence[int],
               budget: int = CHUNK_BYTES, limit: int = CHUNK_ROWS) -> int:
    """Rows per executemany so that rows x declared row width stays within `budget`."""
    row = sum(2 * (w + 1) + 8 if c.type.kind == "text" else _FIXED_BYTES[c.type.kind]
              for c, w in zip(columns, widths))
    return max(1, min(limit, budget // max(row, 1)))


def to_rows(batch: pa.RecordBatch) -> list[tuple[Any, ...]]:
    """Arrow columns -> parameter tuples of int, float, bool, Decimal, date, datetime, str or None."""
    columns = [_pylist(arr) for arr in batch.columns]
    return list(zip(*columns)) if columns else []


def _pylist(arr: pa.Array) -> list[Any]:
    if pa.types.is_timestamp(arr.type) and arr.type.tz is not None:
        # naive UTC: ODBC has no portable zoned timestamp. SQL Server's datetimeoffset takes it as
        # +00:00; the PostgreSQL ODBC session runs with TIME ZONE 'UTC' (pg_odbc.py).
        arr = pc.cast(arr, pa.timestamp(arr.type.unit, tz="UTC")).cast(pa.timestamp(arr.type.unit))
    return arr.to_pylist()


def first_nul(batch: pa.RecordBatch) -> tuple[int, str] | None:
    """(row index, column) of the first text value holding NUL, which some drivers cut short silently."""
    for name, arr in zip(batch.schema.names, batch.columns):
        if pa.types.is_string(arr.type) or pa.types.is_large_string(arr.type):
            hits = pc.match_substring(arr, "\x00")
            if pc.any(hits).as_py():
                return int(pc.index(hits, True).as_py()), name
    return None


def bisect_bad_row(rows: Sequence[tuple[Any, ...]], try_rows: Callable[[Sequence[tuple[Any, ...]]], None]) -> int:
    """Index of the first row `try_rows` refuses, in ~log2(n) probes; each probe must leave no trace.

    fast_executemany reports that a chunk failed, not which row: halve the chunk until one row is left.
    """
    lo, hi = 0, len(rows)
    while hi - lo > 1:
        mid = (lo + hi) // 2
        try:
            try_rows(rows[lo:mid])
        except Exception:
            hi = mid
        else:
            lo = mid
    return lo


def insert_sql(qualified_table: str, quoted_columns: Sequence[str]) -> str:
    marks = ", ".join("?" * len(quoted_columns))
    return f"INSERT INTO {qualified_table} ({', '.join(quoted_columns)}) VALUES ({marks})"


class OdbcWriter:
    """Sends Arrow batches into one table through one pyodbc connection, chunk by chunk."""

    def __init__(self, conn: Any, sql: str, columns: Sequence[Column], name: str,
                 refuses_nul: bool = False, widen: Callable[[str, int], None] | None = None,
                 codes: Mapping[int, type[LoaderError]] = NO_CODES):
        self.conn, self.sql, self.columns, self.name = conn, sql, list(columns), name
        self.codes = codes  # the driver's native error numbers that say more than their SQLSTATE
        self.refuses_nul = refuses_nul  # the database cannot store NUL in text (and the driver would cut it)
        self.widen = widen  # called before a batch whose text is wider than the table declares
        self.rows = 0

    def write(self, reader: pa.RecordBatchReader, locate: RowLocator) -> int:
        for batch in batches_of(reader):
            self._write_batch(batch, locate)
        return self.rows

    def _write_batch(self, batch: pa.RecordBatch, locate: RowLocator) -> None:
        if self.refuses_nul and (hit := first_nul(batch)):
            raise locate(self.rows + hit[0] + 1, hit[1], f"{self.name} cannot store a NUL character in text")
        widths = [text_width(arr) if c.type.kind == "text" else 0 for c, arr in zip(self.columns, batch.columns)]
        if self.widen:
            for col, width in zip(self.columns, widths):
                if col.type.kind == "text":
                    self.widen(col.name, width)
        sizes, step = input_sizes(self.columns, widths), chunk_rows(self.columns, widths)
        for start in range(0, batch.num_rows, step):
            rows = to_rows(batch.slice(start, step))
            self._send(rows, sizes, locate, self.rows)
            self.rows += len(rows)

    def _send(self, rows: list[tuple[Any, ...]], sizes: list[Size], locate: RowLocator, before: int) -> None:
        try:
            self._execute(rows, sizes)
            self.conn.commit()
        except Exception as e:
            self._rollback()
            error = map_error(e, self.name, self.codes)
            if not isinstance(error, DatabaseRefusedError):
                raise error from None
            bad = bisect_bad_row(rows, lambda probe: self._probe(probe, sizes))
            raise locate(before + bad + 1, column_in(str(e), self.columns),
                         f"{self.name} refused the row: {first_line(e)}") from None

    def _execute(self, rows: Sequence[tuple[Any, ...]], sizes: list[Size]) -> None:
        cur = self.conn.cursor()
        try:
            cur.fast_executemany = True
            cur.setinputsizes(sizes)
            cur.executemany(self.sql, rows)
        finally:
            cur.close()

    def _probe(self, rows: Sequence[tuple[Any, ...]], sizes: list[Size]) -> None:
        try:
            self._execute(rows, sizes)
        finally:
            self._rollback()

    def _rollback(self) -> None:
        try:
            self.conn.rollback()
        except Exception as e:  # the connection itself is gone: say so, not "refused"
            raise DatabaseUnavailableError(f"{self.name} connection lost: {first_line(e)}") from None


def import_pyodbc() -> Any:
    """pyodbc, or a configuration error that says what to install (it needs libodbc.so.2 to import)."""
    try:
        import pyodbc
    except ImportError as e:
        raise ConfigError(f"this database URL needs pyodbc and unixODBC (pip install 'loader[mssql]'; "
                          f"apt-get install unixodbc): {e}") from None
    return pyodbc


def sqlstate_of(e: BaseException) -> str | None:
    """pyodbc puts the SQLSTATE first in args: Error('42000', '[42000] [driver] message')."""
    args: tuple[Any, ...] = tuple(getattr(e, "args", ()))
    if args and isinstance(args[0], str) and len(args[0]) == 5 and args[0].isalnum():
        return args[0]
    if len(args) > 1 and isinstance(args[1], str) and len(args[1]) == 5 and args[1].isalnum():
        return args[1]  # pyodbc's own errors: (message, state)
    return None


def odbc_error_class(sqlstate: str | None, native: Iterable[int], message: str, link: bool = False,
                     codes: Mapping[int, type[LoaderError]] = NO_CODES) -> type[LoaderError]:
    """ODBC error -> loader error (pure): the server's native code, then the SQLSTATE, then the text.

    Native codes come first because SQL Server reports many distinct failures under one SQLSTATE
    (42000 is a syntax error, a missing grant and a full filegroup alike). Without any of these,
    a failure on the link (connecting) means the server is out of reach; else it is the database's.
    """
    for code in native:
        if code in codes:
            return codes[code]
    lowered = message.lower()
    if "communication link failure" in lowered or "connection is busy" in lowered:
        return DatabaseUnavailableError
    known = sqlstate_class(sqlstate)
    if known is not None:
        return known
    if "right truncation" in lowered or "out of range" in lowered:  # pyodbc's own HY000 for 22001 / 22003
        return DatabaseRefusedError
    return DatabaseUnavailableError if link else DatabaseFailedError


def native_codes(message: str) -> list[int]:
    """The native error number closing each of pyodbc's diagnostic records, in order."""
    return [int(n) for n in _NATIVE.findall(message)]


def map_error(e: BaseException, name: str, codes: Mapping[int, type[LoaderError]] = NO_CODES,
              connecting: bool = False) -> LoaderError:
    """Driver error -> loader error, by odbc_error_class; `connecting` when the error came from connect()."""
    if isinstance(e, LoaderError):
        return e
    state = sqlstate_of(e)
    text = first_line(e)
    # mssql-python's OperationalError carries no SQLSTATE: treat it as the link, as its name says
    link = connecting or type(e).__name__ == "OperationalError" and "connection" in text.lower()
    cls = odbc_error_class(state, native_codes(message_of(e)), text, link, codes)
    what = {DatabaseRefusedError: f"{name} refused the statement", DatabaseUnavailableError:
            f"{name} connection failed", DatabaseAccessError: f"{name} refused the login or the grant"}
    suffix = f" (SQLSTATE {state})" if state and cls is not DatabaseRefusedError else ""
    return cls(f"{what.get(cls, name)}: {text}{suffix}", sqlstate=state)


def column_in(message: str, columns: Sequence[Column]) -> str | None:
    """The column a driver message names, when it names one ("column 'x'", "column \"x\"")."""
    lowered = message.lower()
    for col in columns:
        if f"column '{col.name}'" in lowered or f'column "{col.name}"' in lowered:
            return col.name
    return None


def message_of(e: BaseException) -> str:
    """pyodbc's message is its second argument (the first is the SQLSTATE); other drivers: str(e)."""
    args: tuple[Any, ...] = tuple(getattr(e, "args", ()))
    return args[1] if len(args) > 1 and isinstance(args[1], str) and len(str(args[0])) == 5 else str(e)


def first_line(e: BaseException) -> str:
    text = message_of(e).strip()
    return text.splitlines()[0] if text else type(e).__name__


def odbc_quote(value: str) -> str:
    """An ODBC connection-string value: braces when it holds ; { } or spaces at the ends; } doubled."""
    if value and not any(ch in value for ch in ";{}=") and value == value.strip():
        return value
    return "{" + value.replace("}", "}}") + "}"


def connection_string(pairs: dict[str, str]) -> str:
    return "".join(f"{key}={odbc_quote(value)};" for key, value in pairs.items())


def parse_connection_string(text: str) -> dict[str, str]:
    """KEY=value;KEY={va;lue} -> ordered dict; keys keep their spelling, braces are removed."""
    out: dict[str, str] = {}
    i, n = 0, len(text)
    while i < n:
        eq = text.find("=", i)
        if eq < 0:
            if text[i:].strip(" ;"):
                raise ValueError(f"connection string part without '=': {text[i:]!r}")
            break
        key = text[i:eq].strip(" ;")
        i = eq + 1
        if i < n and text[i] == "{":
            value, i = _braced(text, i + 1)
        else:
            end = text.find(";", i)
            end = n if end < 0 else end
            value, i = text[i:end].strip(), end
        out[key] = value
        i += 1 if i < n and text[i] == ";" else 0
    return out


def _braced(text: str, i: int) -> tuple[str, int]:
    value = []
    while i < len(text):
        if text[i] == "}":
            if text[i + 1:i + 2] == "}":
                value.append("}")
                i += 2
                continue
            return "".join(value), i + 1
        value.append(text[i])
        i += 1
    raise ValueError("connection string has an unclosed '{'")
