"""A delimited file's layout: everything needed to read it again exactly as the detector saw it.

The layout is the CSV reader's own part of a Detection (its `layout`); the table's columns are
not in it, they live in the Detection, where a load may conform or widen them. Frozen: the
detector builds it once, and nothing downstream changes how a file is read behind its back.
"""

from __future__ import annotations

from dataclasses import dataclass

import pyarrow as pa

from ...coltypes import Column
from ...errors import UsageError
from ..base import Detection, Input
from .dialect import Dialect


@dataclass(frozen=True)
class CsvLayout:
    encoding: str = "utf-8"
    delimiter: str = ","  # "" for a single-column file
    quotechar: str = '"'
    escapechar: str | None = None
    quoting: bool = True  # False: quote characters are data
    quotes_seen: bool = True  # the sample has quote characters (else the file reports no quoting)
    skipinitialspace: bool = False  # "a , b": read by the Python reader, values trimmed
    has_header: bool = True
    skip_rows: int = 0  # physical lines above the header (titles, export dates, `sep=`)
    data_offset: int = 0  # byte offset of the table's first line (header or first row)
    rows_offset: int = 0  # byte offset of the first data row: where the bulk reader starts
    longest_row: int = 0  # characters of the longest record in the sample
    header_lines: int = 0  # physical lines the header takes (a quoted header cell may break a line)
    trailer_bytes: int = 0  # bytes at the end that are totals/end markers, not rows
    trailer_rows: int = 0
    extra_columns: tuple[str, ...] = ()  # physical columns not loaded (a trailing delimiter)
    rows_sampled: int = 0
    bom: bool = False
    strip_nul: bool = False  # NUL characters seen in the sample are removed from text values

    def as_dict(self) -> dict[str, object]:
        """The keys `loader detect --json` has always printed for a delimited file."""
        return {
            "encoding": self.encoding, "delimiter": self.delimiter,
            "quotechar": self.quotechar if self.quoting and self.quotes_seen else None,
            "escapechar": self.escapechar, "skipinitialspace": self.skipinitialspace,
            "has_header": self.has_header, "skip_rows": self.skip_rows,
            "trailer_rows": self.trailer_rows, "bom": self.bom, "rows_sampled": self.rows_sampled,
        }

    def dialect(self) -> Dialect:
        return Dialect(self.delimiter, self.quotechar if self.quoting else "", self.escapechar, self.skipinitialspace)


def layout_of(detection: Detection) -> CsvLayout:
    """The CSV layout of a detection; another reader's detection is a programming error, said plainly."""
    if not isinstance(detection.layout, CsvLayout):
        raise UsageError(f"the csv reader cannot read a {detection.format} detection")
    return detection.layout


@dataclass(frozen=True)
class CsvSource:
    """One delimited input as the CSV modules read it: its bytes, their layout, the table's columns."""

    source: Input
    layout: CsvLayout
    columns: tuple[Column, ...]

    @staticmethod
    def of(source: Input, detection: Detection) -> CsvSource:
        return CsvSource(source, layout_of(detection), tuple(detection.columns))

    @property
    def path(self) -> str:
        return self.source.path

    @property
    def names(self) -> list[str]:
        """Every physical column, loaded or not: what the parser is told to expect."""
        return [c.name for c in self.columns] + list(self.layout.extra_columns)

    @property
    def width(self) -> int:
        return len(self.columns) + len(self.layout.extra_columns)

    def arrow_schema(self) -> pa.Schema:
        return pa.schema([pa.field(c.name, c.type.arrow()) for c in self.columns])
