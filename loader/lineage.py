"""Lineage columns: every row traced back to its load, its file and its row, on request.

`lineage = ["_load_id", "_source_file", "_loaded_at", "_row_number"]` (a route, `load.lineage`,
`--lineage`) adds those columns to the table. Their values are not in the file: they are appended
to each Arrow batch as it streams to staging, so every bulk path and every database gets them the
same way (the raw CSV COPY, which sends the file's own bytes, is skipped for such loads).

- `_load_id`: the tracking row's load_id, so `JOIN loader_files USING (load_id)` finds the load;
- `_source_file`: the file's name as it was dropped (not its processing/ path);
- `_loaded_at`: when the load started (UTC), one value for the whole file;
- `_row_number`: the data row's number in the file, 1 = the first row after the header.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass

import pyarrow as pa

from .coltypes import Column, ColumnType
from .errors import BadInputError, ConfigError

LINEAGE = {"_load_id": ColumnType("text"), "_source_file": ColumnType("text"),
           "_loaded_at": ColumnType("timestamptz"), "_row_number": ColumnType("bigint")}


def check(names: Sequence[str], origin: str) -> None:
    unknown = [n for n in names if n not in LINEAGE]
    if unknown:
        raise ConfigError(f"{origin}: lineage column(s) {unknown} unknown; choose from {list(LINEAGE)}")


def columns(names: Sequence[str]) -> tuple[Column, ...]:
    return tuple(Column(n, LINEAGE[n]) for n in names)


def check_clash(names: Sequence[str], file_columns: Sequence[Column], shown: str) -> None:
    """A file column with a lineage column's name would be silently overwritten: refused instead."""
    clash = sorted(set(names) & {c.name for c in file_columns})
    if clash:
        raise BadInputError(f"{shown}: the file has column(s) {clash}, which lineage would fill; rename them or "
                            "drop those names from lineage")


@dataclass(frozen=True)
class Values:
    load_id: str
    source_file: str
    loaded_at: dt.datetime


def added(reader: pa.RecordBatchReader, extra: Sequence[Column], values: Values | None,
          number_as: str | None = None, fixed: dict[str, pa.Scalar] | None = None,
          skipped: Callable[[], list[int]] | None = None) -> pa.RecordBatchReader:
    """The batches with `extra` columns appended (a route's value columns from `fixed`, lineage values,
    and the row number under `number_as` too when merge needs it in staging), typed as the table will
    hold them. `skipped`: the 0-based data rows set aside as rejects so far (ascending), so a row's
    number stays its number in the file when rows before it were rejected."""
    fields = [pa.field(c.name, c.type.arrow()) for c in extra]
    if number_as and number_as not in {c.name for c in extra}:
        fields.append(pa.field(number_as, pa.int64()))
    schema = reader.schema
    for f in fields:
        schema = schema.append(f)

    def batches() -> Iterator[pa.RecordBatch]:
        numbers = Numbers()
        for batch in reader:
            n = batch.num_rows
            rows = numbers.next(n, skipped() if skipped else [])
            arrays = [pa.repeat(fixed[f.name], n) if fixed and f.name in fixed else _array(f, n, rows, values)
                      for f in fields]
            yield pa.RecordBatch.from_arrays([*batch.columns, *arrays], schema=schema)

    return pa.RecordBatchReader.from_batches(schema, batches())


class Numbers:
    """1-based numbers of the data rows that reach the table, counting the rejected ones between them."""

    def __init__(self) -> None:
        self.index = 0  # 0-based data row of the next row handed out
        self.seen = 0  # how many of the skipped rows are behind `index`

    def next(self, n: int, skipped: Sequence[int]) -> Sequence[int]:
        """The numbers of the next n rows; `skipped` only grows, in ascending order."""
        if self.seen >= len(skipped) or skipped[self.seen] >= self.index + n:
            out: Sequence[int] = range(self.index + 1, self.index + n + 1)
            self.index += n
            return out
        rows = []
        for _ in range(n):
            while self.seen < len(skipped) and skipped[self.seen] <= self.index:
                self.index += skipped[self.seen] == self.index
                self.seen += 1
            rows.append(self.index + 1)
            self.index += 1
        return rows


def _array(f: pa.Field, n: int, rows: Sequence[int], values: Values | None) -> pa.Array:
    if f.name == "_row_number" or values is None or f.name not in LINEAGE:
        return pa.array(rows, pa.int64())
    value = {"_load_id": values.load_id, "_source_file": values.source_file, "_loaded_at": values.loaded_at}[f.name]
    return pa.repeat(pa.scalar(value, f.type), n)
