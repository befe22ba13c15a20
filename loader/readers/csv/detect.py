"""Detect a delimited file's encoding, dialect, layout and column types from a bounded sample.

Pure logic over bytes: `detect_format` never touches the filesystem, so it is tested on
literals; `sniff_file` is the thin I/O wrapper (the head of the file, and its tail for trailer
lines). Layout means what exports add around the table: an Excel `sep=` line, title and
export-date lines above the header (preamble), total and end-of-file lines below the data
(trailer). The reader skips both by byte offset, so they never reach a table.
"""

from __future__ import annotations

import io
import os
import re
from collections import Counter
from dataclasses import dataclass, field

import pyarrow as pa
import pyarrow.csv as pacsv

from ... import naming
from ...coltypes import TEXT, Column, ColumnType, FileFormat
from ...errors import BadInputError, NoInputError, Where
from . import encoding as enc
from .dialect import Dialect, csv_reader, sniff
from .infer import FALSE_VALUES, TRUE_VALUES, infer_types, is_typed

__all__ = ["FALSE_VALUES", "TRUE_VALUES", "Overrides", "column_index", "detect_format", "sniff_file"]

# A few MB or a few thousand rows is enough to see the dialect and the usual values of each
# column; later values that do not fit are widened or rejected by the reader, never coerced.
DEFAULT_SAMPLE_BYTES = 4 * 1024 * 1024
DEFAULT_SAMPLE_ROWS = 5000
TAIL_BYTES = 64 * 1024  # where trailer lines of a large file are looked for
MAX_TRAILER_ROWS = 5
_SEP_LINE = re.compile(r'^"?sep=(.)"?\s*$', re.IGNORECASE)
_TRAILER_WORDS = re.compile(r"^\s*(total|totals|sum|grand total|count|rows|records|eof|end|end of (file|report)|trl|"
                            r"trailer|footer)\b",
                            re.IGNORECASE)


@dataclass
class Overrides:
    """What config pins; each beats detection."""

    encoding: str | None = None
    delimiter: str | None = None
    quotechar: str | None = None
    escapechar: str | None = None
    has_header: bool | None = None
    column_types: dict[str, str] = field(default_factory=dict)  # by safe name or source name


@dataclass
class _Record:
    start: int  # character offsets of the record in the decoded text
    end: int
    fields: list[str]


def detect_format(sample: bytes, complete: bool, overrides: Overrides | None = None,
                  max_rows: int = DEFAULT_SAMPLE_ROWS, file: str | None = None, tail: bytes | None = None,
                  file_size: int | None = None) -> FileFormat:
    """Work out encoding, dialect, layout, header and types from the first bytes of a file.

    `complete` says whether `sample` is the whole file; if not, its last partial line is
    ignored so a row cut in half cannot mislead the guess, and `tail` (the file's last bytes)
    is where trailer lines are looked for.
    """
    ov = overrides or Overrides()
    encoding, bom = _encoding(sample, ov, file)
    text = enc.decode(sample, encoding, bom, file)
    if not complete:
        cut = max(text.rfind("\n"), text.rfind("\r"))
        if cut < 0:
            raise BadInputError(f"no line break in the first {len(sample) // 2**20} MB: not a delimited text file, "
                                "or a row longer than the sample", Where(file=file))
        text = text[: cut + 1]
    if not text.strip():
        raise BadInputError("the file is empty (no header, no rows)", Where(file=file))
    sep_chars, forced = _sep_line(text)
    dialect = _dialect(text[sep_chars:], forced, ov)
    # a whole file is parsed whole: its trailer and row count are then known, not guessed
    records = _records(text, dialect, sep_chars, 10**9 if complete else max_rows + 200)
    if not records:
        raise BadInputError("the file is empty (no header, no rows)", Where(file=file))
    width = _modal_width(records)
    body = records[_preamble_end(records, width):]
    trailer: list[_Record] = _trailer(body, width) if complete else []
    body = body[: len(body) - len(trailer)]
    if not body:
        raise BadInputError("the file has no table (only title or total lines)", Where(file=file))
    evidence = [body[0].fields] + [r.fields for r in body[1:] if any(r.fields)]
    has_header = ov.has_header if ov.has_header is not None else _has_header(evidence)
    fmt = _layout(text, body, trailer, has_header, encoding, bom, dialect, complete)
    if "\x00" in text:
        fmt.strip_nul = True  # padding from legacy exports; no database stores NUL in text
        fmt.notes.append("NUL characters are removed from text values")
    if not complete and tail is not None and file_size is not None:
        fmt.trailer_bytes = _tail_trailer_bytes(tail, encoding, dialect, len(fmt.columns) + len(fmt.extra_columns))
    fmt.longest_row = max(r.end - r.start for r in body)
    _columns(fmt, body, has_header, max_rows, ov)
    rows = body[1:] if has_header else body
    _confirm_with_arrow(fmt, text[rows[0].start: rows[min(len(rows), max_rows) - 1].end] if rows else "", ov)
    return fmt


def _encoding(sample: bytes, ov: Overrides, file: str | None) -> tuple[str, int]:
    try:
        detected, bom = enc.detect(sample)
    except BadInputError as e:
        raise BadInputError(e.reason, Where(file=file)) from None
    if ov.encoding and ov.encoding != detected:
        return ov.encoding, bom if ov.encoding.startswith(detected[:6]) else 0
    return detected, bom


def _sep_line(text: str) -> tuple[int, str | None]:
    """Excel's `sep=;` first line names the delimiter and is not part of the table."""
    first, newline, _ = text.partition("\n")
    m = _SEP_LINE.match(first.rstrip("\r"))
    return (len(first) + len(newline), m.group(1)) if m else (0, None)


def _dialect(text: str, forced: str | None, ov: Overrides) -> Dialect:
    sniffed = sniff(text) if not (forced or ov.delimiter) or ov.quotechar is None else None
    delimiter = ov.delimiter or forced or (sniffed.delimiter if sniffed else ",")
    if forced and not ov.delimiter and sniffed is None:
        sniffed = sniff(text)
    quote = ov.quotechar if ov.quotechar is not None else (sniffed.quotechar if sniffed else '"')
    escape = ov.escapechar if ov.escapechar is not None else (sniffed.escapechar if sniffed else None)
    if sniffed is not None and (forced or ov.delimiter) and sniffed.delimiter != delimiter:
        escape = ov.escapechar  # the sniffed quote/escape belonged to another delimiter
        quote = ov.quotechar if ov.quotechar is not None else '"'
    spaced = bool(sniffed and sniffed.delimiter == delimiter and sniffed.skipinitialspace)
    return Dialect(delimiter, quote, escape, spaced)


def _records(text: str, d: Dialect, start: int, limit: int) -> list[_Record]:
    """Non-empty records with their character spans, up to `limit`."""
    out: list[_Record] = []
    lines = _CountingLines(io.StringIO(text[start:], newline=""), start)
    try:
        for fields in csv_reader(lines, d):
            end = lines.chars
            if fields and (len(fields) > 1 or fields[0] != ""):  # ";;" rows are rows (of NULLs) to the reader
                out.append(_Record(lines.record_start, end, fields))
            lines.record_start = end
            if len(out) >= limit:
                break
    except Exception:  # a csv error in a garbled sample: what was read so far is the evidence
        pass
    return out


class _CountingLines:
    """Feeds csv.reader line by line while counting the characters it consumed."""

    def __init__(self, f: io.StringIO, offset: int = 0):
        self.f, self.chars, self.record_start = f, offset, offset

    def __iter__(self) -> _CountingLines:
        return self

    def __next__(self) -> str:
        line = next(self.f)
        self.chars += len(line)
        return line


def _modal_width(records: list[_Record]) -> int:
    widths = Counter(len(r.fields) for r in records)
    multi = {w: n for w, n in widths.items() if w > 1}
    pool = multi if multi and sum(multi.values()) >= 0.3 * len(records) else widths
    return max(pool.items(), key=lambda wn: (wn[1], wn[0]))[0]


def _preamble_end(records: list[_Record], width: int) -> int:
    """Index of the record that starts the table (its header, or its first row).

    The table is the first run of records of the table's width; titles and notes above it
    have another width or a single filled cell (a title padded with delimiters). The record
    just above the run is its header when it is a row of names of about the same width
    (a header with an extra trailing delimiter, or one cell short for R's row names).
    """
    if width <= 1:
        return 0
    for i, r in enumerate(records[:60]):
        if not _table_like(r, width) or not _run_follows(records, i, width):
            continue
        if i > 0 and _header_like(records[i - 1], width) and not _header_like(r, width, exact=True):
            return i - 1
        return i
    return 0


def _table_like(r: _Record, width: int) -> bool:
    filled = sum(1 for f in r.fields if f)
    return len(r.fields) == width and filled >= min(2, width) and not _comment(r, width)


def _comment(r: _Record, width: int) -> bool:
    return r.fields[0].startswith("#") and len(r.fields) != width


def _run_follows(records: list[_Record], i: int, width: int) -> bool:
    following = [len(x.fields) for x in records[i + 1: i + 4] if any(x.fields)]
    return not following or sum(1 for w in following if w == width) >= (len(following) + 1) // 2


def _header_like(r: _Record, width: int, exact: bool = False) -> bool:
    """A row of distinct names (no numbers) of about the table's width."""
    names = [f for f in r.fields if f]
    if len(names) < min(2, width) or len(set(names)) != len(names) or any(is_typed(f) for f in names):
        return False
    return len(r.fields) == width if exact else (width - 1 <= len(r.fields) <= width + 2 and len(r.fields) != width)


def _trailer(body: list[_Record], width: int) -> list[_Record]:
    """Lines after the data that exports add: totals, counts, end markers."""
    trailer: list[_Record] = []
    for r in reversed(body[1:]):
        if not any(r.fields):
            trailer.append(r)  # Excel leaves ";;;" rows below the data
            continue
        short = len(r.fields) < width and width > 1
        worded = short and bool(_TRAILER_WORDS.match(r.fields[0])) and sum(1 for f in r.fields[1:] if f) <= 1
        if len([t for t in trailer if any(t.fields)]) < MAX_TRAILER_ROWS and (
                short and (len(r.fields) == 1 or worded) or worded):
            trailer.append(r)
        else:
            break
    return list(reversed(trailer))


def _has_header(rows: list[list[str]]) -> bool:
    """A first row is a header when its cells are unlike the values below them.

    Each column votes: a word over numbers is a header, a number over numbers is data (unless
    it is a year over other figures, as statistics exports have), a value repeated below is
    data, a different shape from the values below leans header. No evidence: a row of
    distinct, non-empty names that are not data-like (e-mails, URLs) is a header.
    """
    first = rows[0]
    if len(first) > 1 and any(r == first for r in rows[1:]):
        return True  # the same row again further down: stacked tables, each with its header
    data = [r for r in rows[1:51] if len(r) == len(first)] or rows[1:51]
    if not data:
        return all(first) and not any(_data_like(v) for v in first)
    votes = 0.0
    for j, name in enumerate(first):
        values = [r[j] for r in data if j < len(r) and r[j] != ""]
        if not values:
            continue
        typed = sum(1 for v in values if is_typed(v)) / len(values)
        if typed >= 0.9:
            if not is_typed(name):
                votes += 1 if name else 0.25
            elif _YEAR.match(name) and not all(_YEAR.match(v) for v in values):
                votes += 1
            else:
                votes -= 1
        elif name in values or _data_like(name):
            votes -= 1
        elif _shape(name) != Counter(map(_shape, values)).most_common(1)[0][0]:
            votes += 0.5
    if votes:
        return votes > 0
    return all(first) and len(set(first)) == len(first) and not any(_data_like(v) for v in first)


_YEAR = re.compile(r"^(19|20)\d\d$")
_DATA_LIKE = re.compile(r"^([\w.+-]+@[\w-]+\.[\w.-]+|(https?|ftp)://\S+|www\.\S+)$")


def _data_like(value: str) -> bool:
    return bool(_DATA_LIKE.match(value)) or (is_typed(value) and not _YEAR.match(value))


def _shape(value: str) -> str:
    """A rough shape of a text value: header words look unlike codes and sentences."""
    letters = sum(ch.isalpha() for ch in value)
    digits = sum(ch.isdigit() for ch in value)
    spaced = " " in value.strip()
    return f"{'L' if letters else ''}{'D' if digits else ''}{'S' if spaced else ''}{min(len(value) // 12, 3)}"


def _layout(text: str, body: list[_Record], trailer: list[_Record], has_header: bool, encoding: str,
            bom: int, d: Dialect, complete: bool) -> FileFormat:
    head_start = body[0].start
    skip_rows = text.count("\n", 0, head_start) + text.count("\r", 0, head_start) - text.count("\r\n", 0, head_start)
    rows_start = (body[1].start if len(body) > 1 else body[0].end) if has_header else head_start
    header = text[head_start:rows_start]
    trailer_text = text[body[-1].end:] if complete else ""
    n_data = sum(1 for r in body[1 if has_header else 0:] if any(r.fields))  # ";;" rows are blank, not data
    return FileFormat(encoding=encoding, delimiter=d.delimiter, quotechar=d.quotechar or '"',
                      escapechar=d.escapechar, quoting=bool(d.quotechar), has_header=has_header,
                      quotes_seen=bool(d.quotechar) and d.quotechar in text,
                      skipinitialspace=d.skipinitialspace,
                      skip_rows=skip_rows, data_offset=_bytes(text, head_start, encoding, bom),
                      rows_offset=_bytes(text, rows_start, encoding, bom), bom=bool(bom),
                      header_lines=header.count("\n") + header.count("\r") - header.count("\r\n"),
                      trailer_bytes=len(trailer_text.encode(encoding.replace("-sig", ""))),
                      trailer_rows=len(trailer), n_rows=n_data if complete else None)


def _bytes(text: str, chars: int, encoding: str, bom: int) -> int:
    """Byte offset in the file of character `chars` of the decoded text (0 stays 0: the BOM is read)."""
    return bom + len(text[:chars].encode(encoding.replace("-sig", ""))) if chars else 0


def _columns(fmt: FileFormat, body: list[_Record], has_header: bool, max_rows: int, ov: Overrides) -> None:
    rows = [[f.strip() for f in r.fields] if fmt.skipinitialspace else r.fields for r in body]
    data = rows[1:] if has_header else rows
    width = _modal_width(body[1:] if has_header and len(body) > 1 else body)  # the reader's width is the data's
    headers = _fit_header(rows[0], width, data) if has_header else [""] * width
    if has_header and width > 1 and headers[-1] == "" and all(len(r) < width or r[-1] == "" for r in data):
        width -= 1  # a trailing delimiter on every line: no column there
        fmt.extra_columns = ["_trailing_empty"]
    sources = headers[:width]
    names = naming.column_names(sources)
    physical = width + len(fmt.extra_columns)
    full = [r for r in data[:max_rows] if len(r) == physical and any(r)] or data[:max_rows]  # ragged: bad input
    fmt.columns = []
    for name, header, guess in zip(names, sources, infer_types(full, width, fmt.delimiter)):
        pinned = _override(ov, name, header)
        fmt.columns.append(Column(name, pinned or guess.type, header, parse=None if pinned else guess.parse))
        if guess.note and not pinned:
            fmt.notes.append(f"column {name!r}: {guess.note}")
    fmt.rows_sampled = min(len(data), max_rows)


def _fit_header(header: list[str], width: int, data: list[list[str]]) -> list[str]:
    """Header cells for exactly `width` columns: an extra trailing delimiter dropped, a missing
    trailing one added, or, one cell short with values in the last column, R's row-name column."""
    if len(header) == width - 1 and data and not all(r[-1] == "" for r in data if len(r) == width):
        header = [""] + header
    return (header + [""] * width)[:width]


def _override(ov: Overrides, name: str, header: str) -> ColumnType | None:
    pinned = ov.column_types.get(name) or (ov.column_types.get(header) if header else None)
    return ColumnType.parse(pinned) if pinned else None


def _tail_trailer_bytes(tail: bytes, encoding: str, d: Dialect, width: int) -> int:
    """Trailer lines at the end of a file too large to sample whole."""
    codec = encoding.replace("-sig", "")
    text = tail.decode(codec, errors="replace")
    text = text[text.find("\n") + 1:]  # the first line may be cut
    records = _records(text, d, 0, 10**6)
    trailer = _trailer(records, width)
    return len(text[trailer[0].start:].encode(codec)) if trailer else 0


def _confirm_with_arrow(fmt: FileFormat, text: str, ov: Overrides) -> None:
    """Parse the sample with the very reader the load uses; a column it refuses becomes text.

    Detection rules and Arrow's parsers could disagree on an edge case; this makes such a
    disagreement cost a text column, never a failed load of a good file.
    """
    from .stream import convert_column, convert_options, parse_options  # local: read imports this module

    if not text or fmt.skipinitialspace:
        return  # the Python reader casts these itself and reports a bad value with its line
    data = text.encode("utf-8")
    names = [c.name for c in fmt.columns] + fmt.extra_columns
    for _ in range(len(fmt.columns) + 1):
        try:
            table = pacsv.read_csv(io.BytesIO(data), read_options=pacsv.ReadOptions(
                column_names=names, use_threads=False),
                parse_options=parse_options(fmt), convert_options=convert_options(fmt))
            for i, col in enumerate(fmt.columns):
                if col.parse:
                    convert_column(table.column(col.name).combine_chunks(), col, i)
            return
        except pa.ArrowInvalid as e:
            index = column_index(str(e))
            if index is None or index >= len(fmt.columns) or fmt.columns[index].type == TEXT:
                return  # a parse problem (ragged row...), not a type problem: the load reports it
            col = fmt.columns[index]
            if col.name in ov.column_types or col.source_name in ov.column_types:
                return  # pinned by the user: the load will report the bad value
            if not col.parse and _quoted_empty_is_all(fmt, data, names, col):
                fmt.columns[index] = Column(col.name, col.type, col.source_name, parse="empty_null")
                continue
            fmt.columns[index] = Column(col.name, TEXT, col.source_name)  # parse dropped with the type
            fmt.notes.append(f"column {col.name!r}: sampled values did not all parse as {col.type}; kept as text")


def _quoted_empty_is_all(fmt: FileFormat, data: bytes, names: list[str], col: Column) -> bool:
    """Did the column fail only on quoted empty values ("")? Then those are NULL, as exports mean."""
    from .stream import convert_column, parse_options

    try:
        table = pacsv.read_csv(io.BytesIO(data), read_options=pacsv.ReadOptions(column_names=names, use_threads=False),
                               parse_options=parse_options(fmt), convert_options=pacsv.ConvertOptions(
                                   column_types={n: pa.string() for n in names}, include_columns=[col.name]))
        convert_column(table.column(0).combine_chunks(), Column(col.name, col.type, parse="empty_null"))
        return True
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        return False


_COLUMN_IN_ERROR = re.compile(r"In CSV column #(\d+)")


def column_index(message: str) -> int | None:
    m = _COLUMN_IN_ERROR.search(message)
    return int(m.group(1)) if m else None


def sniff_file(path: str, overrides: Overrides | None = None, sample_bytes: int = DEFAULT_SAMPLE_BYTES,
               sample_rows: int = DEFAULT_SAMPLE_ROWS) -> FileFormat:
    try:
        size = os.path.getsize(path)
        with open(path, "rb") as f:
            sample = f.read(sample_bytes + 1)
            complete = len(sample) <= sample_bytes
            tail = None
            if not complete:
                f.seek(max(sample_bytes, size - TAIL_BYTES))
                tail = f.read()
    except OSError as e:
        raise NoInputError(f"cannot read the file: {e.strerror or e}", Where(file=path)) from None
    return detect_format(sample[:sample_bytes], complete, overrides, sample_rows, file=path, tail=tail,
                         file_size=size)
