"""Confirm the detector's column types with the very parser the load uses.

Detection rules and Arrow's parsers could disagree on an edge case; parsing the sample once
with pyarrow makes such a disagreement cost a text column, never a failed load of a good file.
"""

from __future__ import annotations

import io

import pyarrow as pa
import pyarrow.csv as pacsv

from ...coltypes import TEXT, Column
from ...convert import convert_column
from ..base import ReadOptions
from .arrow import column_index, convert_options, parse_options
from .layout import CsvLayout


def confirm_with_arrow(layout: CsvLayout, columns: list[Column], text: str, options: ReadOptions) -> list[str]:
    """Parse the sample's rows; a column pyarrow refuses becomes text (in place). Returns the notes."""
    if not text or layout.skipinitialspace:
        return []  # the Python reader casts these itself and reports a bad value with its line
    data = text.encode("utf-8")
    names = [c.name for c in columns] + list(layout.extra_columns)
    notes: list[str] = []
    for _ in range(len(columns) + 1):
        try:
            _parse(data, names, layout, columns)
            return notes
        except pa.ArrowInvalid as e:
            index = column_index(str(e))
            if index is None or index >= len(columns) or columns[index].type == TEXT:
                return notes  # a parse problem (ragged row...), not a type problem: the load reports it
            col = columns[index]
            if col.name in options.column_types or col.source_name in options.column_types:
                return notes  # pinned by the user: the load will report the bad value
            if not col.parse and _quoted_empty_is_all(data, names, layout, col):
                columns[index] = Column(col.name, col.type, col.source_name, parse="empty_null")
                continue
            columns[index] = Column(col.name, TEXT, col.source_name)  # parse dropped with the type
            notes.append(f"column {col.name!r}: sampled values did not all parse as {col.type}; kept as text")
    return notes


def _parse(data: bytes, names: list[str], layout: CsvLayout, columns: list[Column]) -> None:
    table = pacsv.read_csv(io.BytesIO(data), read_options=pacsv.ReadOptions(column_names=names, use_threads=False),
                           parse_options=parse_options(layout), convert_options=convert_options(columns))
    for col in columns:
        if col.converted:
            convert_column(table.column(col.name).combine_chunks(), col)


def _quoted_empty_is_all(data: bytes, names: list[str], layout: CsvLayout, col: Column) -> bool:
    """Did the column fail only on quoted empty values ("")? Then those are NULL, as exports mean."""
    try:
        table = pacsv.read_csv(io.BytesIO(data), read_options=pacsv.ReadOptions(column_names=names, use_threads=False),
                               parse_options=parse_options(layout), convert_options=pacsv.ConvertOptions(
                                   column_types={n: pa.string() for n in names}, include_columns=[col.name]))
        convert_column(table.column(0).combine_chunks(), Column(col.name, col.type, parse="empty_null"))
        return True
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        return False
