"""Excel workbooks (.xlsx, .xlsm, .xls, .xlsb) and OpenDocument spreadsheets (.ods), via calamine.

calamine (Rust) reads all four formats through one API and returns typed cells: numbers,
booleans, dates and times keep the type the workbook gave them; text cells go through the CSV
inference. The sheet is ReadOptions.extra["sheet"] (a name, or a 0-based index), else the first
sheet with data. The header is the first row as wide as the table whose cells are all text:
title and export-date rows above it are skipped, as for CSV. A row's number in messages is the
row number Excel shows. Error cells (#DIV/0!, #N/A) arrive as their text and are reported as
bad values in a typed column.

Memory: calamine holds one sheet's cells while it is read (a sheet has at most 1,048,576 rows);
batches are built from its rows a chunk at a time.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import IO, Any, ClassVar

import pyarrow as pa
import python_calamine as calamine

from ..errors import BadInputError, Where
from ..rejects import RowPolicy
from . import base
from .common import BATCH_ROWS, RecordStream, ValueGuess, bad_file, columns_of
from .csv.infer import is_typed

HEADER_SEARCH_ROWS = 30  # exports put a few title lines above the table; 30 is generous
OLE2 = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"  # .xls (BIFF inside an OLE2 compound file)


@dataclass
class ExcelLayout:
    sheet: str
    header_row: int | None  # index among the sheet's rows; None: no header
    first_row: int  # index of the first data row
    row_offset: int  # the sheet's first row as Excel numbers it, minus one
    width: int

    def as_dict(self) -> dict[str, object]:
        header = None if self.header_row is None else self.header_row + self.row_offset + 1
        return {"sheet": self.sheet, "header_row": header, "first_row": self.first_row + self.row_offset + 1}


def open_book(source: base.Input) -> tuple[IO[bytes], Any]:
    f = source.open()
    try:
        return f, calamine.CalamineWorkbook.from_filelike(f)
    except Exception as e:  # calamine raises its own errors and a few plain ones on garbage
        f.close()
        raise bad_file(source.path, "Excel", e) from None


def choose_sheet(book: Any, wanted: Any, path: str) -> Any:
    """The sheet by name or index; by default the first one that has any cell."""
    names = list(book.sheet_names)
    try:
        if wanted is not None and str(wanted) in names:
            return book.get_sheet_by_name(str(wanted))
        if wanted is not None:
            return book.get_sheet_by_index(int(wanted))
        for name in names:
            sheet = book.get_sheet_by_name(name)
            if sheet.height:
                return sheet
    except (ValueError, IndexError, calamine.CalamineError) as e:
        raise BadInputError(f"no sheet {wanted!r}: the workbook has {names} ({e})", Where(path)) from None
    raise BadInputError(f"every sheet is empty ({names})", Where(path))


def filled(row: list[Any]) -> int:
    return sum(1 for v in row if v is not None and v != "")


def find_header(rows: list[list[Any]], has_header: bool | None) -> tuple[int | None, int, int]:
    """(header index or None, first data index, width): the first row as wide as the table."""
    width = max((_last(r) for r in rows), default=0)
    for i, row in enumerate(rows[:HEADER_SEARCH_ROWS]):
        if filled(row) * 2 < width or filled(row) == 0:
            continue  # a title, a blank line
        texts = all(isinstance(v, str) and not is_typed(v) for v in row if v not in (None, ""))
        if has_header is False or (has_header is None and not texts):
            return None, i, width
        return i, i + 1, max(width, _last(row))
    return None, 0, width


def _last(row: list[Any]) -> int:
    return max((i + 1 for i, v in enumerate(row) if v is not None and v != ""), default=0)


class ExcelReader:
    format: ClassVar[str] = "excel"

    def detect(self, source: base.Input, options: base.ReadOptions) -> base.Detection:
        f, book = open_book(source)
        with f:
            sheet = choose_sheet(book, options.extra.get("sheet"), source.path)
            rows = _sample(sheet, options.sample_rows + HEADER_SEARCH_ROWS)
        header, first, width = find_header(rows, options.has_header)
        data = [r for r in rows[first:] if filled(r)]
        heads = [str(v) if v not in (None, "") else "" for v in (rows[header] if header is not None else [])]
        names = (heads + [""] * width)[:width]
        guesses = [ValueGuess() for _ in range(width)]
        for row in data:
            for g, v in zip(guesses, row):
                g.observe(v)
        results = [g.result() for g in guesses]
        columns = columns_of(names, [t for t, _ in results], [p for _, p in results])
        start = sheet.start[0] if sheet.start else 0
        layout = ExcelLayout(sheet.name, header, first, start, width)
        n_rows = len(data) if len(rows) < options.sample_rows + HEADER_SEARCH_ROWS else None
        return base.Detection(self.format, columns, layout, n_rows=n_rows, notes=[f"sheet {sheet.name!r}"])

    def stream(self, source: base.Input, detection: base.Detection, options: base.ReadOptions,
               policy: RowPolicy) -> ExcelStream:
        return ExcelStream(source, detection, policy)


def _sample(sheet: Any, limit: int) -> list[list[Any]]:
    rows = []
    for row in sheet.iter_rows():
        rows.append(row)
        if len(rows) >= limit:
            break
    return rows


class ExcelStream(RecordStream):
    """A record's line is the row number Excel shows for it."""

    what = "row"

    def __init__(self, source: base.Input, detection: base.Detection, policy: RowPolicy):
        super().__init__(source.path, detection.columns, policy)
        self.source, self.layout = source, detection.layout
        self._rows: list[int] = []  # Excel row numbers of the current batch
        self._first = 0

    def _read(self) -> Iterator[pa.RecordBatch]:
        f, book = open_book(self.source)
        with f:
            sheet = choose_sheet(book, self.layout.sheet, self.path)
            chunk: list[list[Any]] = []
            numbers: list[int] = []
            for index, row in enumerate(sheet.iter_rows()):
                if index < self.layout.first_row or not filled(row):
                    continue
                chunk.append([None if v == "" else v for v in row[: self.layout.width]])
                numbers.append(index + self.layout.row_offset + 1)
                if len(chunk) >= BATCH_ROWS:
                    yield self._batch(chunk, numbers)
                    chunk, numbers = [], []
            if chunk:
                yield self._batch(chunk, numbers)

    def _batch(self, chunk: list[list[Any]], numbers: list[int]) -> pa.RecordBatch:
        self._first, self._rows = self.rows, numbers
        batch, rejects = self.caster.text_rows(chunk, self.rows)
        return self.emit(batch, rejects, len(chunk))

    def line_of(self, record: int) -> int | None:
        index = record - self._first
        if 0 <= index < len(self._rows):
            return self._rows[index]
        return self._scan(record)

    def _scan(self, record: int) -> int | None:
        f, book = open_book(self.source)
        with f:
            sheet = choose_sheet(book, self.layout.sheet, self.path)
            seen = -1
            for index, row in enumerate(sheet.iter_rows()):
                if index >= self.layout.first_row and filled(row):
                    seen += 1
                    if seen == record:
                        return index + self.layout.row_offset + 1
        return None


def sniff(head: bytes) -> bool:
    """An OLE2 file, or a zip whose first entries are a workbook's (xl/...) or an ODS mimetype."""
    if head.startswith(OLE2):
        return True
    return head.startswith(b"PK\x03\x04") and (b"xl/" in head or b"opendocument.spreadsheet" in head)


base.register(ExcelReader(), suffixes=[".xlsx", ".xlsm", ".xlsb", ".xls", ".ods"], sniff=sniff)
