"""Where a bad row is in a delimited file: its physical line, its fields, its original text.

pyarrow and the databases count rows; a user needs the line of the file. Every function here
re-reads the input (through `Input.open()`, with Python's csv module and the file's dialect),
and runs only on the error path, so a good file pays nothing for it.
"""

from __future__ import annotations

import io
import re

import pyarrow as pa

from ...errors import BadInputError, DatabaseRefusedError, ValueTypeError, Where
from ...rejects import Reject
from .arrow import column_index, open_csv, open_table, open_text
from .dialect import csv_reader
from .layout import CsvSource

_ROW_IN_ERROR = re.compile(r"Row #(\d+)")


def locate_rejects(csv: CsvSource, rejects: list[Reject]) -> None:
    with open_text(csv) as text:
        locate(text, csv, rejects)


def locate(text: io.TextIOBase, csv: CsvSource, rejects: list[Reject]) -> None:
    """Fill in line and original text of rejects known only by their data row, in one pass.

    `text` is the table's text from its first line (header or first row).
    """
    wanted = {r.data_row: r for r in rejects if r.data_row is not None and r.line is None}
    if not wanted:
        return
    lines = _Tee(text)
    data_row, header = -1, csv.layout.has_header
    for fields in csv_reader(lines, csv.layout.dialect()):
        start, record_text = lines.take()
        if not fields or fields == [""]:
            continue  # an empty line: the parser skips it too (";;" rows it keeps, as blank rows)
        if header:
            header = False
            continue
        if len(fields) != csv.width:
            continue  # the parser set ragged rows aside on its own
        data_row += 1
        if data_row in wanted:
            wanted[data_row].line = csv.layout.skip_rows + start
            wanted[data_row].raw = record_text.rstrip("\r\n")
            if data_row == max(wanted):
                return


class _Tee:
    """Hands lines to csv.reader and keeps the text and first line number of each record."""

    def __init__(self, f: io.TextIOBase):
        self.f, self.count, self.start = f, 0, 1
        self.buffer: list[str] = []

    def __iter__(self) -> _Tee:
        return self

    def __next__(self) -> str:
        line = next(self.f)
        self.count += 1
        self.buffer.append(line)
        return line

    def take(self) -> tuple[int, str]:
        start, text = self.start, "".join(self.buffer)
        self.buffer, self.start = [], self.count + 1
        return start, text


class _Sizes:
    """Hands lines to csv.reader and measures each record: first line number, characters, first line's text."""

    def __init__(self, f: io.TextIOBase):
        self.f, self.count, self.chars = f, 0, 0
        self.start, self.head, self.size = 1, "", 0

    def __iter__(self) -> _Sizes:
        return self

    def __next__(self) -> str:
        line = next(self.f)
        self.count += 1
        if self.count == self.start:
            self.head = line[:4096]
        self.size += len(line)
        return line

    def take(self) -> tuple[int, int, str]:
        out = self.start, self.size, self.head
        self.start, self.size = self.count + 1, 0
        return out


def locate_long_record(csv: CsvSource, block_size: int) -> BadInputError:
    """pyarrow's "straddling object" names no row: find the longest record, its first line, and why.

    A quote that is never closed makes the rest of the file one field; a huge unquoted field is a
    row longer than a read block. Either way the message names the line where it starts.
    """
    longest = (0, 0, "", False)  # size, line, first line's text, was it the last record
    with open_text(csv) as text:
        lines = _Sizes(text)
        for _ in csv_reader(lines, csv.layout.dialect()):
            start, size, head = lines.take()
            longest = (size, start, head, True) if size > longest[0] else (*longest[:3], False)
    size, start, head, last = longest
    line = csv.layout.skip_rows + start if size else None
    quote = csv.layout.dialect().quotechar
    if last and quote and head.count(quote) % 2 == 1:
        reason = (f"a quote ({quote}) opened on this line is never closed: the rest of the file "
                  f"({size:,} characters) would be one field")
    else:
        reason = (f"a row is longer than the read block ({block_size:,} bytes): {size:,} characters from this "
                  "line on; raise load.block_size above it if the row is right")
    return BadInputError(reason, Where(file=csv.path, line=line))


def locate_arrow_error(csv: CsvSource, message: str) -> BadInputError:
    """Find the first bad row by re-reading single-threaded (only then does pyarrow number rows)."""
    first = _first_error(csv) or message
    index = column_index(first)
    m = _ROW_IN_ERROR.search(first)
    record = int(m.group(1)) if m else None
    reason = _reason(first, csv, index)
    if record is None:
        return BadInputError(reason, Where(file=csv.path))
    line, fields = record_at(csv, record + (1 if csv.layout.has_header else 0))  # pyarrow starts after the header
    column = csv.columns[index].name if index is not None and index < len(csv.columns) else None
    value = fields[index] if index is not None and fields is not None and index < len(fields) else None
    kind = ValueTypeError if column is not None and "UTF8" not in first else BadInputError
    return kind(reason, Where(file=csv.path, line=line, column=column, value=value))


def _first_error(csv: CsvSource) -> str | None:
    try:
        with open_table(csv) as data:
            for _ in open_csv(data, csv, use_threads=False):
                pass
    except pa.ArrowInvalid as e:
        return str(e)
    return None


def _reason(message: str, csv: CsvSource, index: int | None) -> str:
    if "invalid UTF8" in message:
        return "the text is not valid UTF-8"
    if "straddl" in message:
        return "a row is longer than the read block; raise load.block_size (bytes) above the longest row"
    m = re.search(r"Expected (\d+) columns, got (\d+)", message)
    if m:
        return f"expected {m.group(1)} fields, found {m.group(2)}"
    if index is not None and index < len(csv.columns):
        detail = message.split(": ", 2)[-1] if "Row #" in message else message.split(": ", 1)[-1]
        return f"value is not a valid {csv.columns[index].type} ({detail})"
    return message


def record_at(csv: CsvSource, record: int) -> tuple[int | None, list[str] | None]:
    """Physical line and fields of the 1-based `record`, counted from the table's first line."""
    with open_text(csv) as text:
        lines = Lines(text)
        seen, last_line = 0, 0
        for row in csv_reader(lines, csv.layout.dialect()):
            start, last_line = last_line + 1, lines.count
            if not row:
                continue
            seen += 1
            if seen == record:
                return csv.layout.skip_rows + start, row
    return None, None


class Lines:
    """Counts physical lines as csv.reader consumes them ('\r', '\n' and '\r\n' each end one)."""

    def __init__(self, f: io.TextIOWrapper):
        self.f, self.count = f, 0

    def __iter__(self) -> Lines:
        return self

    def __next__(self) -> str:
        line = next(self.f)
        self.count += 1
        return line


def data_row_to_record(csv: CsvSource, data_row: int) -> int:
    """A database counts data rows from 1; the table's first line may be a header."""
    return data_row + (1 if csv.layout.has_header else 0)


def locate_data_row(csv: CsvSource, data_row: int, column: str | None, reason: str) -> BadInputError:
    """Turn a database's 'data row N, column c' into the file's physical line and value."""
    line, fields = record_at(csv, data_row_to_record(csv, data_row))
    names = [c.name for c in csv.columns]
    index = names.index(column) if column in names else None
    value = fields[index] if fields is not None and index is not None and index < len(fields) else None
    return DatabaseRefusedError(reason, Where(file=csv.path, line=line, column=column, value=value))
