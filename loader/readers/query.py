"""A database source as a reader: a query (or a table) read as Arrow record batches.

The source's own schema gives the column types, nothing is inferred from values: integers of
any width are bigint, numeric(p,s) is decimal(p,s) exactly, timestamps with a time zone stay
timestamptz (UTC), dates are dates. What no logical type holds (uuid, json, intervals, times,
arrays, binary) is kept as text, never dropped. An unconstrained PostgreSQL `numeric` becomes
decimal(38,10): a value with more digits fails loudly with its column named, never rounded;
pin another type with `--type col=decimal(p,s)` or a cast in the query.

Incremental reads: the window is (lower, upper] of the watermark column. `upper` is the
source's max(column) when the run starts, so rows arriving during a run wait for the next one
with a clean boundary; the largest value read becomes the new watermark, which the load writes
into the tracking row inside the publish transaction (loader/sources.py).
"""

from __future__ import annotations

import datetime as dt
import decimal
import json
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any, ClassVar

import pyarrow as pa
import pyarrow.compute as pc

from .. import naming
from ..coltypes import TEXT, Column, ColumnType
from ..errors import BadInputError, LoaderError, UsageError, Where
from ..rejects import RowPolicy
from . import base, query_sql
from .common import RecordStream, columns_of, logical_type
from .query_conn import SourceConn, connect, source_error
from .query_sql import SourceDialect

FORMAT = "query"
WATERMARK_KINDS = ("bigint", "decimal", "date", "timestamp", "timestamptz")
# An unconstrained numeric has no declared scale; 10 places hold money, rates and most measures,
# and a value needing more is refused by the cast (never rounded).
UNCONSTRAINED_NUMERIC = ColumnType("decimal", 38, 10)


@dataclass(frozen=True)
class QuerySpec:
    """What to read; picklable. `url` is a secret: only `label` appears in messages."""

    url: str
    label: str
    query: str = ""  # a single SELECT; or
    table: str = ""  # schema.name, read whole
    watermark: str | None = None  # the incremental column, as the source spells it
    lower: Any = None  # read rows with watermark > lower (None: from the start)
    on_high: Callable[[Column | None, Any], None] | None = field(default=None, compare=False)


@dataclass
class QueryLayout:
    query: str  # the source query, the table already spelled as one
    select: list[str] | None  # SQLite: read every column as text
    watermark: Column | None
    lower: Any
    upper: Any

    def as_dict(self) -> dict[str, object]:
        out: dict[str, object] = {"source_query": self.query}
        if self.watermark is not None:
            out |= {"watermark_column": self.watermark.source_name, "window_lower": _show(self.lower),
                    "window_upper": _show(self.upper)}
        return out


def _show(value: Any) -> object:
    return None if value is None else value_text(value)


class QueryReader:
    format: ClassVar[str] = FORMAT

    def detect(self, source: base.Input, options: base.ReadOptions) -> base.Detection:
        spec: QuerySpec = options.extra["query"]
        conn = connect(spec.url, spec.label)
        try:
            query = spec.query and query_sql.check_query(spec.query) or query_sql.table_query(conn.dialect, spec.table)
            columns, select = _columns(conn, query, spec, options)
            wm = _watermark_column(columns, spec, conn.dialect)
            upper = _upper(conn, query, wm, spec) if wm is not None else None
        except LoaderError:
            raise
        except Exception as e:
            raise source_error(e, spec.label) from None
        finally:
            conn.close()
        layout = QueryLayout(query, select, wm, spec.lower, upper)
        return base.Detection(FORMAT, columns, layout)

    def stream(self, source: base.Input, detection: base.Detection, options: base.ReadOptions,
               policy: RowPolicy) -> QueryStream:
        return QueryStream(options.extra["query"], detection, policy)


def _columns(conn: SourceConn, query: str, spec: QuerySpec,
             options: base.ReadOptions) -> tuple[list[Column], list[str] | None]:
    """The query's columns from the source's schema (SQLite: the declared types of a probe view)."""
    d = conn.dialect
    if d.name == "sqlite":
        for sql in query_sql.probe_view(query)[:-1]:
            conn.rows(sql)
        info = conn.rows(query_sql.probe_view(query)[-1])
        names, types = [str(r[1]) for r in info], [sqlite_type(str(r[2] or "")) for r in info]
        select = query_sql.as_text(d, names, [n for n, t in zip(names, types) if t.kind == "boolean"])
    else:
        reader = conn.batches(query_sql.empty(d, query))
        schema = reader.schema
        reader.close()
        names, types, select = list(schema.names), [source_type(f) for f in schema], None
    columns = columns_of(names, types)
    pinned = {k.lower(): ColumnType.parse(v) for k, v in options.column_types.items()}
    columns = [Column(c.name, pinned.get(c.name) or pinned.get(c.source_name.lower()) or c.type, c.source_name)
               for c in columns]
    return columns, select


def _watermark_column(columns: list[Column], spec: QuerySpec, d: SourceDialect) -> Column | None:
    if spec.watermark is None:
        return None
    match = [c for c in columns if spec.watermark in (c.source_name, c.name)]
    if not match:
        raise UsageError(f"source {spec.label}: watermark column {spec.watermark!r} is not in the query's "
                         f"columns {[c.source_name for c in columns]}")
    col = match[0]
    if col.type.kind not in WATERMARK_KINDS:
        raise UsageError(f"source {spec.label}: watermark column {col.source_name!r} is {col.type}; it must be "
                         f"one of {', '.join(WATERMARK_KINDS)} (a value that only grows)")
    if d.name == "sqlite" and col.type.kind == "decimal":
        raise UsageError(f"source {spec.label}: SQLite keeps decimals as text, which does not sort as numbers; "
                         f"use an integer or a date/time watermark column instead of {col.source_name!r}")
    return col


def _upper(conn: SourceConn, query: str, wm: Column, spec: QuerySpec) -> Any:
    """The window's end; refuses NULL watermarks (never copied) and a source older than the watermark."""
    high, nulls = conn.rows(query_sql.bounds(conn.dialect, query, wm.source_name))[0]
    where = Where(file=spec.label, column=wm.source_name)
    if nulls:
        raise BadInputError(f"{int(nulls)} rows have NULL in the watermark column: an incremental pull would "
                            "never copy them; fill them in the source or filter them in the query", where)
    high = python_value(wm.type, high)
    if high is not None and spec.lower is not None and high < spec.lower:
        raise BadInputError(f"the watermark column went backwards: the source's newest value "
                            f"{value_text(high)} is older than the committed watermark {value_text(spec.lower)} "
                            "(restored or rewritten source?); nothing loaded. A fullload pull starts over", where)
    return high


class QueryStream(RecordStream):
    """The window's rows, cast to the columns; record i's 'line' is its row number in the result."""

    what = "row"

    def __init__(self, spec: QuerySpec, detection: base.Detection, policy: RowPolicy):
        super().__init__(spec.label, detection.columns, policy)
        self.spec, self.layout = spec, detection.layout
        wm = self.layout.watermark
        self.wm_index = next((i for i, c in enumerate(self.columns) if wm is not None and c.name == wm.name), None)
        self.high: Any = None
        self.source_error: LoaderError | None = None

    def _read(self) -> Iterator[pa.RecordBatch]:
        lay: QueryLayout = self.layout
        conn = connect(self.spec.url, self.spec.label)
        try:
            sql, params = _window_sql(conn.dialect, lay)
            for batch in _guard(conn.batches(sql, params), self):
                arrays = [plain(batch.column(i)) for i in range(batch.num_columns)]
                typed, rejects = self.caster.arrays(arrays, self.rows)
                self._note_high(typed)
                yield self.emit(typed, rejects, batch.num_rows)
        finally:
            conn.close()
        if self.spec.on_high is not None:
            self.spec.on_high(lay.watermark, self.high)

    def _note_high(self, batch: pa.RecordBatch) -> None:
        if self.wm_index is None or not batch.num_rows:
            return
        top = pc.max(batch.column(self.wm_index)).as_py()
        if top is not None and (self.high is None or top > self.high):
            self.high = top


def _window_sql(d: SourceDialect, lay: QueryLayout) -> tuple[str, list[Any]]:
    if lay.watermark is None:
        return query_sql.window(d, lay.query, None, False, False, lay.select), []
    lower, upper = lay.lower is not None, lay.upper is not None
    if not upper:  # an empty source: read nothing, whatever the lower bound
        return query_sql.empty(d, lay.query, lay.select), []
    wm = lay.watermark
    params = [bind(lay.lower, wm, d)] if lower else []
    sql = query_sql.window(d, lay.query, wm.source_name, lower, upper, lay.select)
    return sql, [*params, bind(lay.upper, wm, d)]


def _guard(reader: pa.RecordBatchReader, stream: QueryStream) -> Iterator[pa.RecordBatch]:
    """Driver errors mid-read (a dropped connection) as the source's, kept where load.py looks first."""
    while True:
        try:
            batch = reader.read_next_batch()
        except StopIteration:
            return
        except Exception as e:
            error = source_error(e, stream.spec.label)
            stream.error = error  # type: ignore[assignment]  # the precise error, re-raised by load.py
            raise error from None
        yield batch


# -- types -------------------------------------------------------------------------------------
def source_type(f: pa.Field) -> ColumnType:
    """The logical type of a source column, from its Arrow field (and the driver's metadata)."""
    typ = f.type
    if isinstance(typ, pa.BaseExtensionType):
        name = getattr(typ, "type_name", "") or typ.extension_name
        if name == "numeric":
            return _numeric(f.metadata or {})
        return TEXT
    if pa.types.is_timestamp(typ) and typ.unit == "ns":
        return ColumnType("timestamptz" if typ.tz else "timestamp")
    return logical_type(typ)


def _numeric(meta: dict[bytes, bytes]) -> ColumnType:
    """PostgreSQL numeric(p,s) as ADBC reports it: typmod = (p << 16 | s) + 4; -1 when unconstrained."""
    typmod = int(meta.get(b"POSTGRESQL:typmod", b"-1") or -1)
    if typmod < 4:
        return UNCONSTRAINED_NUMERIC
    p, s = ((typmod - 4) >> 16) & 0xFFFF, (typmod - 4) & 0xFFFF
    return ColumnType("decimal", p, s) if p <= 38 else TEXT


def sqlite_type(declared: str) -> ColumnType:
    """SQLite's declared type, by its affinity rules plus the names the loader itself writes."""
    d = declared.upper().replace(" ", "")
    for prefix in ("DECIMAL_TEXT(", "DECIMAL(", "NUMERIC("):
        if d.startswith(prefix) and d.endswith(")"):
            p, _, s = d[len(prefix):-1].partition(",")
            if p.isdigit() and int(p) <= 38 and (s or "0").isdigit():
                return ColumnType("decimal", int(p), int(s or 0))
    if "INT" in d:
        return ColumnType("bigint")
    if d in ("BOOLEAN", "BOOL"):
        return ColumnType("boolean")
    if d == "DATE":
        return ColumnType("date")
    if d in ("TIMESTAMPTZ", "DATETIMETZ"):
        return ColumnType("timestamptz")
    if d in ("TIMESTAMP", "DATETIME"):
        return ColumnType("timestamp")
    if any(k in d for k in ("REAL", "FLOA", "DOUB")):
        return ColumnType("float")
    return TEXT


def plain(arr: pa.Array) -> pa.Array:
    """Extension arrays (uuid, json, PostgreSQL's numeric-as-text) as plain Arrow the casts know."""
    typ = arr.type
    if not isinstance(typ, pa.BaseExtensionType):
        return arr
    if typ.extension_name == "arrow.uuid":
        return pa.array([None if v is None else str(uuid.UUID(bytes=v)) for v in arr.storage.to_pylist()],
                        pa.string())
    return arr.storage


# -- watermark values ------------------------------------------------------------------------------
def python_value(typ: ColumnType, value: Any) -> Any:
    """A bound from a source (or from text) as the Python value of the column's logical type."""
    if value is None:
        return None
    kind = typ.kind
    if kind == "bigint":
        return int(value)
    if kind == "decimal":
        return decimal.Decimal(str(value))
    if kind == "date":
        return value if isinstance(value, dt.date) and not isinstance(value, dt.datetime) else \
            dt.date.fromisoformat(str(value)[:10])
    stamp = value if isinstance(value, dt.datetime) else dt.datetime.fromisoformat(str(value))
    if kind == "timestamptz":
        return stamp.replace(tzinfo=dt.UTC) if stamp.tzinfo is None else stamp.astimezone(dt.UTC)
    return stamp.replace(tzinfo=None)


def value_text(value: Any) -> str:
    if isinstance(value, dt.datetime):
        return value.isoformat(" ")
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, decimal.Decimal):
        return format(value, "f")
    return str(value)


def bind(value: Any, col: Column, d: SourceDialect) -> Any:
    """A watermark as a parameter: typed for ADBC drivers. SQLite compares its dates and times as the
    text stored, so they are bound in the loader's own fixed-width form (2024-01-02 03:04:05.000000)."""
    if d.name == "sqlite" and col.type.kind in ("date", "timestamp", "timestamptz"):
        return pc.cast(pa.scalar(value, col.type.arrow()), pa.string()).as_py()
    return value


def watermark_json(column: Column, value: Any) -> str:
    """What the tracking row keeps: enough to refuse a changed column and to rebuild the bound."""
    return json.dumps({"column": column.source_name, "type": str(column.type), "value": value_text(value)})


def parse_watermark(text: str | None) -> tuple[str, ColumnType, Any] | None:
    if not text:
        return None
    doc = json.loads(text)
    typ = ColumnType.parse(doc["type"])
    return doc["column"], typ, python_value(typ, doc["value"])


def source_input(label: str) -> base.Input:
    """A database source has no bytes to open: its Input only names it in messages and rows."""
    def nothing() -> Any:
        raise UsageError(f"{label} is a database source, not a file")
    return base.Input(label, -1, nothing, naming.normalise(label, "source"))


base.register(QueryReader())  # no suffixes, no sniff: only a pinned format "query" picks it
