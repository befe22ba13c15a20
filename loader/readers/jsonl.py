"""JSON: JSON lines (one object per line), or a document holding an array of objects.

JSON lines are read in bounded blocks cut at line ends. Each block goes through pyarrow's
JSON parser with the detected schema (the fast path); a block it refuses (a syntax error, a
value of another type than the sample showed) is read again line by line with the stdlib
parser, which names the line and the reason, or turns the bad lines into rejects. A document
(`[...]`, or `{"key": [...]}` with the key in ReadOptions.extra["json_key"]) is read item by
item with ijson, so a 1 GB array never sits in memory.

Numbers keep their exact text: 12.50 is a decimal, as it would be in a CSV file; strings go
through the CSV inference (dates, timestamps, decimals); objects one level deep become
parent_child columns and deeper values JSON text (readers/common.py).
"""

from __future__ import annotations

import decimal
import io
import json
from collections.abc import Iterator
from dataclasses import dataclass
from typing import IO, Any, ClassVar

import ijson
import pyarrow as pa
import pyarrow.json as pajson

from ..errors import BadInputError, Where
from ..rejects import Reject, RowPolicy
from . import base
from .common import BATCH_ROWS, RecordStream, Source, flatten, infer_records

MAX_LINE = 256 << 20  # a single line longer than this is refused rather than risking the memory budget


@dataclass
class JsonLayout:
    kind: str  # lines | array | object
    key: str | None = None  # the member holding the array (object documents)
    fast: pa.Schema | None = None  # the pyarrow schema of a lines file, None: the stdlib parser only

    def as_dict(self) -> dict[str, object]:
        return {"json": self.kind, "json_key": self.key, "fast_path": self.fast is not None}

    @property
    def prefix(self) -> str:
        return f"{self.key}.item" if self.key else "item"


class JsonReader:
    format: ClassVar[str] = "json"

    def detect(self, source: base.Input, options: base.ReadOptions) -> base.Detection:
        kind, key = document_kind(source, options.extra.get("json_key"))
        if kind == "lines":
            records, complete = sample_lines(source, options)
        else:
            records, complete = sample_items(source, JsonLayout(kind, key).prefix, options.sample_rows)
        flat = [flatten(r) for r in records]
        columns = infer_records(flat)
        if not columns:
            raise BadInputError("no JSON objects found to load", Where(source.path))
        layout = JsonLayout(kind, key, fast_schema(columns, flat) if kind == "lines" else None)
        notes = [] if complete else ["keys first seen after the sampled records are not loaded"]
        return base.Detection(self.format, columns, layout, n_rows=len(records) if complete else None, notes=notes)

    def stream(self, source: base.Input, detection: base.Detection, options: base.ReadOptions,
               policy: RowPolicy) -> RecordStream:
        if detection.layout.kind == "lines":
            return LinesStream(source, detection, policy, options.block_size)
        return ItemsStream(source, detection, policy)


# -- what kind of JSON -------------------------------------------------------------------------
def document_kind(source: base.Input, key: str | None) -> tuple[str, str | None]:
    """lines, an array, or an object holding the array (under `key`, or its only array member)."""
    if key:
        return "object", key
    text = source.head().lstrip(b"\xef\xbb\xbf \t\r\n").decode("utf-8", "replace")
    if text.startswith("["):
        return "array", None
    if not text.startswith("{"):
        raise BadInputError("not JSON: expected '{' or '[' at the start", Where(source.path, line=1))
    try:
        first, end = json.JSONDecoder().raw_decode(text)
    except json.JSONDecodeError:
        if "\n" in text.strip() and _first_line_is_object(text):
            return "lines", None
        return "object", array_key(source)  # one document larger than the head
    if text[end:].strip() or not isinstance(first, dict):
        return "lines", None
    # the head is one whole object: a document with one array of records, or a single record
    arrays = [k for k, v in first.items() if isinstance(v, list) and v and isinstance(v[0], dict)]
    return ("object", arrays[0]) if len(arrays) == 1 else ("lines", None)


def _first_line_is_object(text: str) -> bool:
    try:
        return isinstance(json.loads(text.split("\n", 1)[0]), dict)
    except json.JSONDecodeError:
        return False


def array_key(source: base.Input) -> str:
    """The first top-level member whose value is an array: a document's records by convention."""
    with source.open() as f:
        try:
            for prefix, event, value in ijson.parse(f):
                if event == "map_key" and prefix == "" and "." not in value:
                    key = value
                elif event == "start_array" and prefix and "." not in prefix:
                    return key
        except ijson.JSONError as e:
            raise BadInputError(f"invalid JSON: {_ijson_reason(e)}", Where(source.path)) from None
    raise BadInputError("a JSON object without an array of records; name its key with json_key",
                        Where(source.path))


def _ijson_reason(e: Exception) -> str:
    return " ".join(str(e).split()).replace("(right here) ------^", "").strip()


# -- sampling ---------------------------------------------------------------------------------
def parse_line(line: bytes, path: str, number: int) -> dict[str, Any]:
    """One JSON lines record; numbers kept exact (Decimal) so their text decides their type."""
    try:
        value = json.loads(line, parse_float=decimal.Decimal)
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        reason = f"invalid JSON at character {e.colno}: {e.msg}" if isinstance(e, json.JSONDecodeError) \
            else f"not UTF-8: {e.reason}"
        raise BadInputError(reason, Where(path, line=number)) from None
    if not isinstance(value, dict):
        raise BadInputError(f"a JSON lines record must be an object, got {type(value).__name__}",
                            Where(path, line=number))
    return value


def sample_lines(source: base.Input, options: base.ReadOptions) -> tuple[list[dict[str, Any]], bool]:
    """The first records; a bad line is skipped here (the stream fails on it or rejects it, by policy)."""
    with source.open() as f:
        data = f.read(options.sample_bytes)
        complete = not f.read(1)
    if not complete:
        data = data[: data.rfind(b"\n") + 1]
    records, first_error = [], None
    for number, line in enumerate(data.split(b"\n"), start=1):
        if not line.strip():
            continue
        try:
            records.append(parse_line(line, source.path, number))
        except BadInputError as e:
            first_error = first_error or e
        if len(records) >= options.sample_rows:
            return records, False
    if not records and first_error:
        raise first_error
    return records, complete


def sample_items(source: base.Input, prefix: str, limit: int) -> tuple[list[dict[str, Any]], bool]:
    with source.open() as f:
        items = iter_items(f, prefix, source.path)
        records = [item for _, item in zip(range(limit), items)]
        return records, next(items, None) is None


def iter_items(f: IO[bytes], prefix: str, path: str) -> Iterator[dict[str, Any]]:
    count = 0
    try:
        for item in ijson.items(f, prefix):
            count += 1
            if not isinstance(item, dict):
                raise BadInputError(f"record {count}: an array item must be an object, got {type(item).__name__}",
                                    Where(path, line=count))
            yield item
    except ijson.JSONError as e:
        raise BadInputError(f"invalid JSON after record {count}: {_ijson_reason(e)}", Where(path)) from None


_ARROW = {"bigint": pa.int64(), "float": pa.float64(), "boolean": pa.bool_()}


def fast_schema(columns: list[Any], records: list[dict[str, Any]]) -> pa.Schema | None:
    """The schema pyarrow parses a lines file with, when every column maps onto one JSON type."""
    tops: dict[str, dict[str, pa.DataType] | pa.DataType] = {}
    for col in columns:
        kinds = {_json_kind(r[col.source_name]) for r in records if r.get(col.source_name) is not None}
        typ = _arrow_for(kinds, col)
        if typ is None:
            return None
        top, _, child = col.source_name.partition(".")
        if child:
            parent = tops.setdefault(top, {})
            if not isinstance(parent, dict):
                return None
            parent[child] = typ
        elif top in tops:
            return None
        else:
            tops[top] = typ
    return pa.schema([(k, pa.struct(list(v.items())) if isinstance(v, dict) else v) for k, v in tops.items()])


def _json_kind(value: Any) -> str:
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, int):
        return "int"
    return "decimal" if isinstance(value, decimal.Decimal) else "str" if isinstance(value, str) else "other"


def _arrow_for(kinds: set[str], col: Any) -> pa.DataType | None:
    if kinds <= {"str"}:
        return pa.string()
    if kinds == {"bool"}:
        return pa.bool_()
    if kinds <= {"int", "decimal"} and col.type.kind in ("bigint", "decimal", "float"):
        return col.type.arrow()
    return None


# -- streaming -------------------------------------------------------------------------------
class LinesStream(RecordStream):
    """A record's line is its physical line; blocks of whole lines, each parsed fast or exactly."""

    what = "line"

    def __init__(self, source: base.Input, detection: base.Detection, policy: RowPolicy, block_size: int):
        super().__init__(source.path, detection.columns, policy)
        self.source, self.block_size, self.fast = source, max(block_size, 64 << 10), detection.layout.fast
        self.keys = [c.source_name or c.name for c in self.columns]
        self.sources = [Source(*k.split(".", 1)) for k in self.keys]
        self._lines: list[int] = []  # the line of each record of the current block
        self._first = 0  # the first record of the current block

    def _read(self) -> Iterator[pa.RecordBatch]:
        with self.source.open() as f:
            line = 1
            for block in blocks(f, self.block_size, self.path):
                yield from self._block(block, line)
                line += block.count(b"\n")

    def _block(self, block: bytes, line: int) -> Iterator[pa.RecordBatch]:
        self._first, self._lines = self.rows, []
        table = self._parse_fast(block)
        if table is not None and table.num_rows:
            self._lines = _record_lines(block, line)
            batch, rejects = self.caster.arrays([s.take(table) for s in self.sources], self.rows)
            yield self.emit(batch, rejects, table.num_rows)
        elif table is None:
            yield from self._parse_exact(block, line)

    def _parse_fast(self, block: bytes) -> pa.Table | None:
        if self.fast is None:
            return None
        options = pajson.ParseOptions(explicit_schema=self.fast, unexpected_field_behavior="ignore")
        try:
            return pajson.read_json(io.BytesIO(block), pajson.ReadOptions(use_threads=False,
                                                                            block_size=len(block) + 1), options)
        except pa.ArrowInvalid:
            return None  # the exact parser says where and why, or reads values of another type

    def _parse_exact(self, block: bytes, line: int) -> Iterator[pa.RecordBatch]:
        rows: list[list[Any]] = []
        bad: list[Reject] = []
        for number, text in enumerate(block.split(b"\n"), start=line):
            if not text.strip():
                continue
            try:
                record = flatten(parse_line(text, self.path, number))
            except BadInputError as e:
                if not self.policy.reject_rows:
                    raise
                bad.append(Reject(e.reason, line=number, raw=text.decode("utf-8", "replace"),
                                  data_row=self._first + len(rows) + len(bad)))
                continue
            self._lines.append(number)
            rows.append([record.get(k) for k in self.keys])
        yield from self._emit_rows(rows, bad)

    def _emit_rows(self, rows: list[list[Any]], bad: list[Reject]) -> Iterator[pa.RecordBatch]:
        for r in bad:  # syntax rejects are rows read; the typed rows that follow keep their own lines
            self.rows += 1
            self.rejects.append(r)
        self._first = self.rows
        if rows:
            batch, rejects = self.caster.text_rows(rows, self.rows)
            yield self.emit(batch, rejects, len(rows))

    def line_of(self, record: int) -> int | None:
        index = record - self._first
        if 0 <= index < len(self._lines):
            return self._lines[index]
        return self._scan(record)

    def _scan(self, record: int) -> int | None:
        """The line of record n, by a pass over the file (the error path only)."""
        with self.source.open() as f:
            seen = -1
            for number, text in enumerate(f, start=1):
                seen += bool(text.strip())
                if seen == record:
                    return number
        return None


def blocks(f: IO[bytes], size: int, path: str) -> Iterator[bytes]:
    """Blocks of about `size` bytes that end at a line end: each one holds whole records."""
    carry = b""
    while True:
        data = f.read(size)
        if not data:
            if carry:
                yield carry
            return
        data = carry + data
        cut = data.rfind(b"\n") + 1
        if not cut and len(data) > MAX_LINE:
            raise BadInputError(f"a line longer than {MAX_LINE >> 20} MB", Where(path))
        carry = data[cut:]
        if cut:
            yield data[:cut]


def _record_lines(block: bytes, line: int) -> list[int]:
    return [n for n, text in enumerate(block.split(b"\n"), start=line) if text.strip()]


class ItemsStream(RecordStream):
    """The items of a document's array; a record's number is its 1-based place in the array."""

    what = "record"

    def __init__(self, source: base.Input, detection: base.Detection, policy: RowPolicy):
        super().__init__(source.path, detection.columns, policy)
        self.source, self.prefix = source, detection.layout.prefix
        self.keys = [c.source_name or c.name for c in self.columns]

    def _read(self) -> Iterator[pa.RecordBatch]:
        with self.source.open() as f:
            rows: list[list[Any]] = []
            for item in iter_items(f, self.prefix, self.path):
                record = flatten(item)
                rows.append([record.get(k) for k in self.keys])
                if len(rows) >= BATCH_ROWS:
                    yield self._batch(rows)
                    rows = []
            if rows:
                yield self._batch(rows)

    def _batch(self, rows: list[list[Any]]) -> pa.RecordBatch:
        batch, rejects = self.caster.text_rows(rows, self.rows)
        return self.emit(batch, rejects, len(rows))


def sniff(head: bytes) -> bool:
    """A '{' line that parses as an object, or '[' then '{': CSV never starts like that."""
    text = head.lstrip(b"\xef\xbb\xbf \t\r\n")
    if text[:1] == b"[":
        return text[1:].lstrip()[:1] in (b"{", b"]")
    return text[:1] == b"{" and (_first_line_is_object(text.decode("utf-8", "replace")) or b"\n" not in text)


base.register(JsonReader(), suffixes=[".jsonl", ".ndjson", ".json"], sniff=sniff)
