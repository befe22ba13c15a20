"""What the non-CSV readers share: naming, type inference from values, and casting to the columns.

Two shapes of input reach a table. Formats that parse into Arrow (Parquet, JSON lines) hand over
typed arrays, cast here to the columns the load decided on. Formats read value by value (Excel
cells, XML elements, JSON documents) hand over rows of Python values, turned into text and cast
with the CSV reader's own rules, so "12.50" means the same decimal in every format.

The nesting rule is one rule for every format: one level of nested objects becomes
`parent_child` columns; anything deeper, any list and any binary value is kept as JSON text in
one column (binary as base64), never dropped and never a crash.
"""

from __future__ import annotations

import base64
import datetime as dt
import decimal
import json
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from .. import naming
from ..coltypes import TEXT, Column, ColumnType
from ..errors import BadInputError, ValueTypeError, Where
from ..rejects import Reject, RowPolicy, cast, failing
from .csv.infer import INT64_MAX, INT64_MIN, infer_column

# Rows per batch for readers that build batches from Python values: a few MB of text at
# 20 columns, small enough that peak memory stays flat, large enough that the per-batch cost
# (building arrays, casting) is under 5% of the time.
BATCH_ROWS = 16_384


# -- names --------------------------------------------------------------------------------------
def columns_of(source_names: Sequence[str], types: Sequence[ColumnType],
               parses: Sequence[str | None] | None = None) -> list[Column]:
    """Columns named safely and uniquely from the names found in the input."""
    names = naming.column_names([s.replace(".", "_") for s in source_names])
    parses = parses or [None] * len(names)
    return [Column(n, t, s, parse=p) for n, t, s, p in zip(names, types, source_names, parses)]


def rename_notes(columns: Sequence[Column]) -> list[str]:
    """Notes for columns renamed because their source name is a system column (xmin, ctid, oid, rowid):
    a reader adds them to its Detection's notes, as the CSV reader does."""
    return naming.renamed([c.source_name or "" for c in columns], [c.name for c in columns])


# -- values as text -----------------------------------------------------------------------------
def as_text(value: Any) -> str | None:
    """One value as the text the CSV reader would have seen; nested values as JSON."""
    if value is None or isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer() and abs(value) < 2**53:
        return str(int(value))  # Excel stores every number as a double: 3.0 is the integer 3
    if isinstance(value, int | float | decimal.Decimal):
        return str(value)
    if isinstance(value, dt.datetime):
        return value.isoformat(" ")
    if isinstance(value, dt.date | dt.time):
        return value.isoformat()
    if isinstance(value, bytes | bytearray):
        return base64.b64encode(value).decode("ascii")
    return json.dumps(value, ensure_ascii=False, default=_json_default)


def _json_default(value: Any) -> Any:
    return as_text(value) if not isinstance(value, dict | list) else value


def flatten(record: dict[str, Any]) -> dict[str, Any]:
    """One level of nested objects as parent.child keys; deeper values stay whole (JSON text later)."""
    out: dict[str, Any] = {}
    for key, value in record.items():
        if isinstance(value, dict) and value:
            for child, inner in value.items():
                out[f"{key}.{child}"] = inner
        else:
            out[key] = value
    return out


# -- inference from Python values ----------------------------------------------------------------
@dataclass
class ValueGuess:
    """The kinds of Python value seen in one column, and their text for the CSV inference."""

    kinds: set[str] = field(default_factory=set)
    texts: list[str] = field(default_factory=list)

    def observe(self, value: Any) -> None:
        if value is None or value == "":
            return
        kind = _kind(value)
        self.kinds.add(kind)
        if kind in ("number", "str") and len(self.texts) < 50_000:
            self.texts.append(as_text(value) or "")

    def result(self) -> tuple[ColumnType, str | None]:
        """The column's type: cells typed by the format keep their type, text is inferred as in CSV."""
        k = self.kinds
        if k == {"number", "float"}:
            return ColumnType("float"), None  # Excel's 3 and 12.5 are both doubles
        if not k or "nested" in k or len(k) > 1 and not k <= {"date", "datetime"}:
            return TEXT, None
        kind = next(iter(k)) if len(k) == 1 else "datetime"
        simple = {"bool": "boolean", "float": "float", "date": "date", "datetime": "timestamp",
                  "datetimetz": "timestamptz"}
        if kind in simple:
            return ColumnType(simple[kind]), None
        if kind in ("number", "str"):
            inferred = infer_column(self.texts)
            if kind == "number" and inferred.parse:
                return TEXT, None
            return inferred.type, inferred.parse
        return TEXT, None


def _kind(value: Any) -> str:
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, int):
        return "number" if INT64_MIN <= value <= INT64_MAX else "str"
    if isinstance(value, float):
        return "number" if value.is_integer() else "float"
    if isinstance(value, decimal.Decimal):
        return "number" if value.is_finite() else "str"
    if isinstance(value, str):
        return "str"
    if isinstance(value, dt.datetime):
        return "datetimetz" if value.tzinfo else "datetime"
    if isinstance(value, dt.date):
        return "date"
    if isinstance(value, dict | list | bytes | bytearray):
        return "nested"
    return "other"  # a time of day, a duration: text


def infer_records(records: Sequence[dict[str, Any]]) -> list[Column]:
    """Columns for flattened records: keys in order of first appearance, types from their values."""
    guesses: dict[str, ValueGuess] = {}
    for record in records:
        for key, value in record.items():
            guesses.setdefault(key, ValueGuess()).observe(value)
    results = [g.result() for g in guesses.values()]
    return columns_of(list(guesses), [t for t, _ in results], [p for _, p in results])


# -- casting to the columns ---------------------------------------------------------------------
Locator = Callable[[int], int | None]  # a record's index in the stream (0-based) -> its line/row


@dataclass
class Caster:
    """Casts arrays to the columns; a value that does not fit is an error or a reject, by policy."""

    path: str
    columns: list[Column]
    policy: RowPolicy
    line_of: Locator
    what: str = "record"  # how the reason names a record: record, line, row, element

    def text_rows(self, rows: Sequence[Sequence[Any]], first: int) -> tuple[pa.RecordBatch, list[Reject]]:
        """Rows of Python values (one per column, in column order) as a typed batch."""
        arrays = [pa.array([as_text(r[i]) if i < len(r) else None for r in rows], pa.string())
                  for i in range(len(self.columns))]
        return self.arrays(arrays, first)

    def arrays(self, arrays: list[pa.Array], first: int) -> tuple[pa.RecordBatch, list[Reject]]:
        """Arrays in column order, of any type, as a batch of exactly the columns' types."""
        out: list[pa.Array] = []
        pending: set[int] = set()  # columns with bad values: cast once those rows are filtered out
        bad: dict[int, Reject] = {}
        for i, (arr, col) in enumerate(zip(arrays, self.columns)):
            if col.type.kind != "text" and pa.types.is_string(arr.type):
                arr = pc.if_else(pc.equal(arr, ""), pa.scalar(None, pa.string()), arr)  # empty is missing
            typed = fast_cast(arr, col)
            if typed is None:
                text = to_text(arr)
                typed = self._search(text, col, first, bad)
                if typed is None:
                    pending.add(i)
                    typed = text
            out.append(typed)
        if bad:
            out = self._drop(out, pending, bad)
        rejects = [bad[i] for i in sorted(bad)]
        return pa.RecordBatch.from_arrays(out, schema=self.schema), rejects

    @property
    def schema(self) -> pa.Schema:
        return pa.schema([pa.field(c.name, c.type.arrow()) for c in self.columns])

    def _search(self, text: pa.Array, col: Column, first: int, bad: dict[int, Reject]) -> pa.Array | None:
        """The column cast from text, or None after noting each value that does not cast."""
        indexes = failing(text, col)
        if not indexes:
            return cast(text, col)
        for index in indexes:
            bad.setdefault(index, Reject(f"value is not a valid {col.type}", column=col.name,
                                         value=text[index].as_py(), data_row=first + index))
        return None

    def _drop(self, out: list[pa.Array], pending: set[int], bad: dict[int, Reject]) -> list[pa.Array]:
        """reject_file: the first bad value fails the file; reject_rows: its row is set aside."""
        rejects = [bad[i] for i in sorted(bad)]
        for r in rejects:
            r.line = self.line_of(r.data_row or 0)
        if not self.policy.reject_rows:
            raise self.value_error(rejects[0])
        keep = pa.array([i not in bad for i in range(len(out[0]))])
        kept = [a.filter(keep) for a in out]
        return [cast(a, c) if i in pending else a for i, (a, c) in enumerate(zip(kept, self.columns))]

    def value_error(self, reject: Reject) -> ValueTypeError:
        """The error names the record's line (or sheet row, or element) and the value."""
        return ValueTypeError(reject.reason, Where(self.path, line=reject.line, column=reject.column,
                                                   value=reject.value))


def fast_cast(arr: pa.Array, col: Column) -> pa.Array | None:
    """The array as the column's type without a per-value search; None when some value does not fit."""
    target = col.type.arrow()
    if arr.type == target and not col.converted:
        return arr
    if pa.types.is_string(target):
        return cast(to_text(arr), col)  # a route's trim and NULL markers apply to text columns too
    if is_nested(arr.type) or pa.types.is_binary(arr.type) or pa.types.is_large_binary(arr.type):
        return None
    try:
        if pa.types.is_string(arr.type) or pa.types.is_large_string(arr.type) or col.converted:
            return cast(arr.cast(pa.string()), col)
        if pa.types.is_timestamp(arr.type) and pa.types.is_timestamp(target) and bool(arr.type.tz) != bool(target.tz):
            return None  # naive and zoned times do not convert silently: the text path decides
        return pc.cast(arr, target)
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError, pa.ArrowTypeError):
        return None


def is_nested(typ: pa.DataType) -> bool:
    return bool(pa.types.is_nested(typ) or pa.types.is_dictionary(typ) and is_nested(typ.value_type))


def to_text(arr: pa.Array) -> pa.Array:
    """Any array as text: nested values as JSON, binary as base64, the rest as Arrow writes them."""
    if pa.types.is_string(arr.type):
        return arr
    if pa.types.is_dictionary(arr.type):
        arr = arr.dictionary_decode()
    if is_nested(arr.type) or pa.types.is_binary(arr.type) or pa.types.is_large_binary(arr.type) \
            or pa.types.is_fixed_size_binary(arr.type):
        return pa.array([as_text(v) for v in arr.to_pylist()], pa.string())
    if pa.types.is_boolean(arr.type):
        return pc.if_else(arr, "true", "false")
    return pc.cast(arr, pa.string())


# -- Arrow schemas to columns --------------------------------------------------------------------
def logical_type(typ: pa.DataType) -> ColumnType:
    """The logical type that holds an Arrow type exactly; text (JSON) for what no column type holds."""
    t = pa.types
    if t.is_dictionary(typ):
        return logical_type(typ.value_type)
    if t.is_boolean(typ):
        return ColumnType("boolean")
    if t.is_integer(typ):
        return ColumnType("decimal", 20, 0) if typ == pa.uint64() else ColumnType("bigint")
    if t.is_floating(typ):
        return ColumnType("float")
    if t.is_decimal(typ) and typ.precision <= 38:
        return ColumnType("decimal", typ.precision, typ.scale)
    if t.is_date(typ):
        return ColumnType("date")
    if t.is_timestamp(typ):
        return ColumnType("timestamptz" if typ.tz else "timestamp")
    return TEXT


@dataclass(frozen=True)
class Source:
    """Where a column's values are in an Arrow table: a top-level field, or a child of a struct."""

    top: str
    child: str | None = None

    def take(self, batch: pa.RecordBatch | pa.Table) -> pa.Array:
        index = batch.schema.get_field_index(self.top)
        if index < 0:
            return pa.nulls(batch.num_rows, pa.string())
        arr = batch.column(index)
        if isinstance(arr, pa.ChunkedArray):
            arr = arr.combine_chunks()
        if self.child is None:
            return arr
        return pc.struct_field(arr, [arr.type.get_field_index(self.child)])


def arrow_columns(schema: pa.Schema) -> tuple[list[Column], list[Source]]:
    """Columns for an Arrow schema, struct fields flattened one level (parent_child)."""
    names: list[str] = []
    types: list[ColumnType] = []
    sources: list[Source] = []
    for f in schema:
        if pa.types.is_struct(f.type) and f.type.num_fields:
            for child in f.type:
                names.append(f"{f.name}.{child.name}")
                types.append(logical_type(child.type))
                sources.append(Source(f.name, child.name))
        else:
            names.append(f.name)
            types.append(logical_type(f.type))
            sources.append(Source(f.name))
    return columns_of(names, types), sources


def record_of_loaded(row: int, rejected: Sequence[int]) -> int:
    """A database's 1-based row among loaded rows as the 0-based record read (rejects skipped)."""
    record = row - 1
    for index in sorted(rejected):
        if index <= record:
            record += 1
    return record


class RecordStream:
    """A Stream over records (rows, lines, elements): counting, rejects and errors kept in one place.

    Subclasses yield typed batches from `_read` and say where record i is with `line_of`.
    """

    what = "record"

    def __init__(self, path: str, columns: list[Column], policy: RowPolicy):
        self.path, self.columns, self.policy = path, columns, policy
        self.rows = 0
        self.rejects: list[Reject] = []
        self.error: BadInputError | None = None
        self.caster = Caster(path, columns, policy, self.line_of, self.what)

    def schema(self) -> pa.Schema:
        return pa.schema([pa.field(c.name, c.type.arrow()) for c in self.columns])

    def reader(self) -> pa.RecordBatchReader:
        return pa.RecordBatchReader.from_batches(self.schema(), self._guarded())

    def _guarded(self) -> Iterator[pa.RecordBatch]:
        try:
            yield from self._read()
        except BadInputError as e:
            self.error = e
            raise
        if self.policy.over_limit(len(self.rejects), self.rows, final=True):
            self.error = BadInputError(f"{len(self.rejects)} of {self.rows} records rejected: over the limit",
                                       Where(self.path))
            raise self.error

    def _read(self) -> Iterator[pa.RecordBatch]:
        raise NotImplementedError

    def emit(self, batch: pa.RecordBatch, rejects: list[Reject], read: int) -> pa.RecordBatch:
        """Count a batch of `read` records and keep its rejects; the limit is checked as they come."""
        self.rows += read
        self.rejects.extend(rejects)
        if rejects and self.policy.over_limit(len(self.rejects), self.rows, final=False):
            first = self.rejects[0]
            raise BadInputError(f"{len(self.rejects)} records rejected ({self.policy.allowed()}); "
                                f"first: {first.reason}",
                                Where(self.path, first.line, first.column, first.value))
        return batch

    def line_of(self, record: int) -> int | None:
        return record + 1

    def locate(self, data_row: int, column: str | None, reason: str) -> BadInputError:
        record = record_of_loaded(data_row, [r.data_row for r in self.rejects if r.data_row is not None])
        return BadInputError(reason, Where(self.path, line=self.line_of(record), column=column))

    def locate_rejects(self) -> None:
        for r in self.rejects:
            if r.line is None and r.data_row is not None:
                r.line = self.line_of(r.data_row)


def bad_file(source_path: str, what: str, error: BaseException) -> BadInputError:
    """A file that is not what its name or content claims: the reason names the file, never a traceback."""
    text = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
    return BadInputError(f"not a readable {what} file: {text}", Where(source_path))
