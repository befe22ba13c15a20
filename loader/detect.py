"""Detect a delimited file's dialect, header and column types from a bounded sample.

Pure logic over bytes: `detect_format` never touches the filesystem, so it is tested on
literals. `sniff_file` is the thin I/O wrapper. Detection is conservative on purpose: a
column becomes a typed column only when every sampled value fits the type exactly as the
reader will parse it, so codes with leading zeros, phone numbers and ambiguous values stay
text rather than being silently damaged.
"""

from __future__ import annotations

import codecs
import csv
import datetime as dt
import io
import math
import re
from collections import Counter
from dataclasses import dataclass, field

import pyarrow as pa
import pyarrow.csv as pacsv

from . import naming
from .coltypes import TEXT, Column, ColumnType, FileFormat
from .errors import BadInputError, Where

DELIMITERS = [",", ";", "\t", "|"]
TRUE_VALUES = ["true", "True", "TRUE"]
FALSE_VALUES = ["false", "False", "FALSE"]
INT64_MIN, INT64_MAX = -(2**63), 2**63 - 1
# A few MB or a few thousand rows is enough to see the dialect and the usual values of each
# column; later values that do not fit fail the load loudly (they are never coerced).
DEFAULT_SAMPLE_BYTES = 4 * 1024 * 1024
DEFAULT_SAMPLE_ROWS = 5000
# Decimal columns get headroom in the integer part: numeric(18,s) costs the same storage
# as numeric(9,s) in all three databases and saves a failed load when a larger value comes.
DECIMAL_MIN_PRECISION = 18

_INT = re.compile(r"^-?(0|[1-9][0-9]*)$")
_DEC = re.compile(r"^-?(0|[1-9][0-9]*)\.([0-9]+)$")
_FLOAT = re.compile(r"^-?(0|[1-9][0-9]*)(\.[0-9]+)?[eE][+-]?[0-9]+$")
_DATE = re.compile(r"^[0-9]{4}-[0-9]{2}-[0-9]{2}$")
_TS = re.compile(r"^([0-9]{4}-[0-9]{2}-[0-9]{2})[ T]([0-9]{2}):([0-9]{2}):([0-9]{2})(\.[0-9]{1,6})?$")


@dataclass
class Overrides:
    """What config pins; each beats detection."""

    delimiter: str | None = None
    has_header: bool | None = None
    column_types: dict[str, str] = field(default_factory=dict)  # by safe name or source name


@dataclass
class _Guess:
    """Per-column evidence: the kinds still possible, and decimal digits seen."""

    kinds: set[str] = field(default_factory=lambda: {"boolean", "bigint", "decimal", "float", "date", "timestamp"})
    int_digits: int = 1
    scale: int = 0
    seen: int = 0

    def observe(self, value: str) -> None:
        if value == "":
            return
        self.seen += 1
        if not self.kinds:
            return
        self.kinds &= _kinds_of(value)
        m = _DEC.match(value) or _INT.match(value)
        if m and {"decimal", "bigint"} & self.kinds:
            self.int_digits = max(self.int_digits, len(m.group(1)))
            if m.re is _DEC:
                self.scale = max(self.scale, len(m.group(2)))

    def result(self) -> ColumnType:
        """The narrowest type every sampled value fits, in a fixed order of preference."""
        for kind in ("boolean", "bigint", "date", "decimal", "float", "timestamp"):
            if kind not in self.kinds or not self.seen:
                continue
            if kind != "decimal":
                return ColumnType(kind)
            needed = self.int_digits + self.scale
            if needed > 38:
                return TEXT  # a float would round it: keep every digit
            return ColumnType("decimal", min(38, max(needed, DECIMAL_MIN_PRECISION)), self.scale)
        return TEXT


def _kinds_of(value: str) -> set[str]:
    kinds: set[str] = set()
    if value in TRUE_VALUES or value in FALSE_VALUES:
        kinds.add("boolean")
    if _INT.match(value):
        # beyond int64 it is an identifier (card or account number), not a quantity: text
        if INT64_MIN <= int(value) <= INT64_MAX:
            kinds |= {"bigint", "decimal", "float"}
    elif _DEC.match(value):
        kinds |= {"decimal", "float"}
    elif _FLOAT.match(value) and math.isfinite(float(value)):
        kinds.add("float")  # 1e400 would load as inf: text instead
    elif _DATE.match(value) and _valid_date(value):
        kinds |= {"date", "timestamp"}
    elif _TS.match(value) and _valid_timestamp(value):
        kinds.add("timestamp")
    return kinds


def _valid_date(value: str) -> bool:
    try:
        dt.date.fromisoformat(value)
        return True
    except ValueError:
        return False


def _valid_timestamp(value: str) -> bool:
    m = _TS.match(value)
    assert m
    return _valid_date(m.group(1)) and int(m.group(2)) < 24 and int(m.group(3)) < 60 and int(m.group(4)) < 60


def detect_format(sample: bytes, complete: bool, overrides: Overrides | None = None,
                  max_rows: int = DEFAULT_SAMPLE_ROWS, file: str | None = None) -> FileFormat:
    """Work out dialect, header and types from the first bytes of a file.

    `complete` says whether `sample` is the whole file; if not, its last partial line is
    ignored so a row cut in half cannot mislead the type guess.
    """
    ov = overrides or Overrides()
    text, bom = _decode(sample, complete, file)
    if not text.strip():
        raise BadInputError("the file is empty (no header, no rows)", Where(file=file))
    delimiter = ov.delimiter or _guess_delimiter(text)
    records, extent = _records_and_extent(text, delimiter, max_rows + 1)
    text = text[:extent]  # what Arrow confirms below is exactly what was sampled
    if not records:
        raise BadInputError("the file is empty (no header, no rows)", Where(file=file))
    has_header = ov.has_header if ov.has_header is not None else _looks_like_header(records)
    headers = records[0] if has_header else [f"col_{i}" for i in range(1, len(records[0]) + 1)]
    body = records[1:] if has_header else records
    width = len(headers)
    guesses = [_Guess() for _ in range(width)]
    for row in body:
        for guess, value in zip(guesses, row):
            guess.observe(value)
    names = naming.column_names(headers)
    columns = [Column(n, _override(ov, n, h) or g.result(), h) for n, h, g in zip(names, headers, guesses)]
    fmt = FileFormat(delimiter=delimiter, has_header=has_header, columns=columns,
                     rows_sampled=len(body), bom=bom, encoding="utf-8-sig" if bom else "utf-8")
    _confirm_with_arrow(fmt, text, ov)
    return fmt


def _override(ov: Overrides, name: str, header: str) -> ColumnType | None:
    pinned = ov.column_types.get(name) or ov.column_types.get(header)
    return ColumnType.parse(pinned) if pinned else None


def _decode(sample: bytes, complete: bool, file: str | None) -> tuple[str, bool]:
    if sample.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        raise BadInputError("UTF-16 files are not supported yet; save the file as UTF-8", Where(file=file))
    bom = sample.startswith(codecs.BOM_UTF8)
    if bom:
        sample = sample[len(codecs.BOM_UTF8):]
    if not complete:
        cut = max(sample.rfind(b"\n"), sample.rfind(b"\r"))
        sample = sample[: cut + 1] if cut >= 0 else sample
    try:
        return sample.decode("utf-8"), bom
    except UnicodeDecodeError as e:
        line = sample.count(b"\n", 0, e.start) + 1
        bad = sample[e.start: e.start + 4]
        raise BadInputError(f"the file is not valid UTF-8 (byte {bad!r}); save it as UTF-8",
                            Where(file=file, line=line)) from None


def _records(text: str, delimiter: str, limit: int) -> list[list[str]]:
    return _records_and_extent(text, delimiter, limit)[0]


def _records_and_extent(text: str, delimiter: str, limit: int) -> tuple[list[list[str]], int]:
    """Up to `limit` non-empty records, and how many characters of `text` they span."""
    lines = _CountingLines(io.StringIO(text, newline=""))
    reader = csv.reader(lines, delimiter=delimiter, quotechar='"', doublequote=True, strict=False)
    out: list[list[str]] = []
    for row in reader:
        if row:
            out.append(row)
        if len(out) >= limit:
            break
    return out, lines.chars


class _CountingLines:
    """Feeds csv.reader line by line while counting the characters it consumed."""

    def __init__(self, f: io.StringIO):
        self.f, self.chars = f, 0

    def __iter__(self) -> _CountingLines:
        return self

    def __next__(self) -> str:
        line = next(self.f)
        self.chars += len(line)
        return line


def _guess_delimiter(text: str) -> str:
    """The delimiter that splits the sampled lines into the most consistent, widest rows."""
    best, best_score = ",", (0.0, 0)
    head = text[:256 * 1024]
    for d in DELIMITERS:
        rows = _records(head, d, 200)
        widths = Counter(len(r) for r in rows)
        if not widths:
            continue
        width, count = widths.most_common(1)[0]
        if width < 2:
            continue
        score = (count / len(rows), width)
        if score > best_score:
            best, best_score = d, score
    return best


def _looks_like_header(records: list[list[str]]) -> bool:
    """A first row whose every value is a number or date is data, not a header."""
    first = records[0]
    return not all(v and _kinds_of(v) - {"boolean"} for v in first)


def _confirm_with_arrow(fmt: FileFormat, text: str, ov: Overrides) -> None:
    """Parse the sample with the very reader the load uses; a column it refuses becomes text.

    Detection rules and Arrow's parsers could disagree on an edge case; this makes such a
    disagreement cost a text column, never a failed load of a good file.
    """
    from .read import convert_options, parse_options  # local: read imports this module's constants

    data = text.encode("utf-8")
    for _ in range(len(fmt.columns) + 1):
        try:
            pacsv.read_csv(io.BytesIO(data), read_options=pacsv.ReadOptions(
                column_names=[c.name for c in fmt.columns], skip_rows=1 if fmt.has_header else 0,
                use_threads=False), parse_options=parse_options(fmt), convert_options=convert_options(fmt))
            return
        except pa.ArrowInvalid as e:
            index = column_index(str(e))
            if index is None or index >= len(fmt.columns) or fmt.columns[index].type == TEXT:
                return  # a parse problem (ragged row...), not a type problem: the load reports it
            col = fmt.columns[index]
            if col.name in ov.column_types or col.source_name in ov.column_types:
                return  # pinned by the user: the load will report the bad value
            fmt.columns[index] = Column(col.name, TEXT, col.source_name)
            fmt.notes.append(f"column {col.name!r}: sampled values did not all parse as {col.type}; kept as text")


_COLUMN_IN_ERROR = re.compile(r"In CSV column #(\d+)")


def column_index(message: str) -> int | None:
    m = _COLUMN_IN_ERROR.search(message)
    return int(m.group(1)) if m else None


def sniff_file(path: str, overrides: Overrides | None = None, sample_bytes: int = DEFAULT_SAMPLE_BYTES,
               sample_rows: int = DEFAULT_SAMPLE_ROWS) -> FileFormat:
    with open(path, "rb") as f:
        sample = f.read(sample_bytes + 1)
    complete = len(sample) <= sample_bytes
    return detect_format(sample[:sample_bytes], complete, overrides, sample_rows, file=path)
