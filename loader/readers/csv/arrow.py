"""How pyarrow is told to read a layout, and the window of bytes it reads.

Shared by the detector (which confirms its guess with the very parser the load uses), the stream
and the error path; none of them opens a file by name: every byte comes through `Input.open()`.
"""

from __future__ import annotations

import io
import re
import sys
from collections.abc import Callable, Sequence
from typing import IO, Any

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv

from ...coltypes import Column
from ...convert import FALSE_VALUES, TRUE_VALUES
from ..base import Input
from .encoding import reader_codec
from .layout import CsvLayout, CsvSource

# pyarrow's default 1 MiB block: measured peak RSS 150-210 MB per worker; 4 MiB blocks
# used 300-340 MB and were no faster (`python -m bench memory`, 1M rows x 12 columns).
BLOCK_SIZE = 1 << 20
WINDOW_BUFFER = 1 << 20  # one read block: the window adds no copies pyarrow would not make anyway


def parse_options(layout: CsvLayout) -> pacsv.ParseOptions:
    # newlines_in_values costs some parse speed but a quoted line break anywhere in a 100 MB
    # file would otherwise split a row; correctness first.
    return pacsv.ParseOptions(delimiter=layout.delimiter or "\x1f",
                              quote_char=layout.quotechar if layout.quoting else False,
                              double_quote=layout.escapechar is None, escape_char=layout.escapechar or False,
                              newlines_in_values=layout.quoting, ignore_empty_lines=True)


def convert_options(columns: Sequence[Column], as_text: bool = False) -> pacsv.ConvertOptions:
    # Only an unquoted empty field is NULL: "NA", "NULL", "N/A" are values (a country code,
    # a product name) and a quoted "" is an empty string, not a missing one.
    return pacsv.ConvertOptions(
        column_types={c.name: pa.string() if as_text or c.converted else c.type.arrow() for c in columns},
        include_columns=[c.name for c in columns],
        null_values=[""], strings_can_be_null=True, quoted_strings_can_be_null=False,
        true_values=TRUE_VALUES, false_values=FALSE_VALUES,
    )


def read_options(csv: CsvSource, use_threads: bool = True, block_size: int = BLOCK_SIZE) -> pacsv.ReadOptions:
    layout = csv.layout
    codec = "utf8" if layout.encoding.startswith("utf-8") else (
        reader_codec(layout.encoding, layout.bom) if layout.rows_offset == 0 else layout.encoding)
    # the header is skipped by starting after it (rows_offset), not by skip_rows, which
    # counts raw lines and would split a header with a quoted line break
    return pacsv.ReadOptions(column_names=csv.names, use_threads=use_threads, block_size=block_size, encoding=codec)


class Window(io.RawIOBase):
    """The bytes of an input between two offsets: the table without its preamble and trailer."""

    def __init__(self, source: Input, start: int, end: int):
        """`end` < 0: to the end of the stream (a decompressed input's size is not known up front)."""
        self.f: Any = source.open()
        if start and self.f.seekable():
            self.f.seek(start)
        elif start:  # a stream: skip forward by reading, in bounded pieces
            left = start
            while left > 0 and (piece := self.f.read(min(left, WINDOW_BUFFER))):
                left -= len(piece)
        self.left = end - start if end >= 0 else sys.maxsize

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        view = memoryview(buffer)[: max(0, self.left)]
        n = self.f.readinto(view)
        self.left -= n
        return int(n)

    def close(self) -> None:
        self.f.close()
        super().close()


def open_table(csv: CsvSource) -> IO[bytes]:
    """The input's bytes, or a window on them when a preamble or trailer must be skipped."""
    layout = csv.layout
    if not layout.rows_offset and not layout.trailer_bytes:
        return csv.source.open()
    return io.BufferedReader(Window(csv.source, layout.rows_offset, _end(csv, layout.trailer_bytes)),
                             buffer_size=WINDOW_BUFFER)


def _end(csv: CsvSource, trailer_bytes: int) -> int:
    """Where the table's bytes end: before the trailer; -1 (to the end) when the size is not known."""
    return csv.source.size - trailer_bytes if csv.source.size >= 0 else -1


def open_text(csv: CsvSource, rows: bool = False) -> io.TextIOWrapper:
    """The table's text from its first line (or first data row), decoded."""
    layout = csv.layout
    start = layout.rows_offset if rows else layout.data_offset
    codec = reader_codec(layout.encoding, layout.bom) if start == 0 else layout.encoding.replace("-sig", "")
    raw = Window(csv.source, start, _end(csv, layout.trailer_bytes if rows else 0))
    return io.TextIOWrapper(io.BufferedReader(raw), encoding=codec, errors="replace", newline="")


def open_csv(data: IO[bytes], csv: CsvSource, use_threads: bool = True, block_size: int = BLOCK_SIZE,
             on_bad_row: Callable[[Any], str] | None = None, as_text: bool = False) -> pacsv.CSVStreamingReader:
    """pyarrow's streaming parser over `data` (from open_table); the caller closes `data`."""
    parse = parse_options(csv.layout)
    if on_bad_row is not None:  # an explicit None makes pyarrow print a TypeError traceback on a ragged row
        parse.invalid_row_handler = on_bad_row
    return pacsv.open_csv(data, read_options=read_options(csv, use_threads, block_size),
                          parse_options=parse, convert_options=convert_options(csv.columns, as_text))


_COLUMN_IN_ERROR = re.compile(r"In CSV column #(\d+)")


def column_index(message: str) -> int | None:
    """The 0-based column a pyarrow CSV error names, if it names one."""
    m = _COLUMN_IN_ERROR.search(message)
    return int(m.group(1)) if m else None


def drop_blank_rows(batch: pa.RecordBatch) -> pa.RecordBatch:
    """Rows whose every field is empty (Excel's ";;;" separators) carry nothing: not rows."""
    if batch.num_columns < 2 or batch.num_rows == 0:
        return batch
    filled = pc.is_valid(batch.column(0))
    for column in batch.columns[1:]:
        filled = pc.or_(filled, pc.is_valid(column))
    return batch if pc.all(filled).as_py() else batch.filter(filled)
