"""Stream a delimited file as Arrow record batches with the detected types, in bounded memory.

The reader never holds the file: pyarrow parses one block at a time (see arrow.BLOCK_SIZE) and
the target consumes each batch before the next is parsed. When pyarrow refuses a value, the
error is turned into one that names the physical line, the column and the value; that
search re-reads the file only on the error path (locate.py), so the fast path pays nothing.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from ...convert import cast, convert_column
from ...errors import BadInputError, ValueTypeError, Where
from ...rejects import Reject, RowPolicy, failing, split_batch
from .. import ahead
from ..base import Detection, Input
from .arrow import BLOCK_SIZE, drop_blank_rows, open_csv, open_table, open_text
from .chunks import raw_csv
from .dialect import csv_reader, reader
from .layout import CsvSource
from .locate import (
    Lines,
    data_row_to_record,
    locate_arrow_error,
    locate_data_row,
    locate_long_record,
    locate_rejects,
    record_at,
)
from .ragged import RaggedTally, fit_row

MAX_BLOCK_SIZE = 256 << 20  # a row longer than this is refused rather than risking the memory budget
PYTHON_BATCH_ROWS = 16_384  # the Python reader's batch: a few MB of strings
_LONG_ROW_SLACK = 64 << 10  # room above twice the longest sampled row, for rows a little longer


class CsvStream:
    """Batches of one file, counted as they pass; bad rows become located errors or rejects."""

    def __init__(self, source: Input, detection: Detection, block_size: int = BLOCK_SIZE,
                 policy: RowPolicy | None = None):
        self.csv = CsvSource.of(source, detection)
        self.n_rows = detection.n_rows
        # a block must hold the longest row: rows seen in the sample set a floor
        self.block_size = min(MAX_BLOCK_SIZE, max(block_size, 2 * self.csv.layout.longest_row + _LONG_ROW_SLACK))
        self.policy = policy or RowPolicy()
        self.rows = 0  # rows read: loaded or rejected
        self.rejects: list[Reject] = []
        self.error: BadInputError | None = None
        self._good_rows = 0
        self._ragged = RaggedTally()
        self._kept: list[tuple[list[str | None], int | None, str]] = []  # ragged rows kept: values, line, text
        self._nul_after_sample = False

    @property
    def notes(self) -> list[str]:
        """What the reader did beyond the detection's notes: for the tracking row."""
        nul = ["NUL characters found after the sample were removed from text values"] if self._nul_after_sample else []
        return self._ragged.notes() + nul

    def reader(self, readahead: int = ahead.READAHEAD) -> pa.RecordBatchReader:
        batches = self._batches() if readahead <= 0 else ahead.readahead(self._batches(), readahead)
        return pa.RecordBatchReader.from_batches(self.csv.arrow_schema(), batches)

    def locate(self, data_row: int, column: str | None, reason: str) -> BadInputError:
        return locate_data_row(self.csv, data_row, column, reason)

    def locate_rejects(self) -> None:
        locate_rejects(self.csv, self.rejects)

    def raw(self) -> Any:
        """The rows as validated raw chunks for a database that parses CSV itself, where it parses
        them exactly as this reader would (chunks.py); None otherwise."""

        return raw_csv(self.csv, self.policy)

    def _batches(self) -> Iterator[pa.RecordBatch]:
        try:
            yield from self._read()
        except pa.ArrowInvalid as e:
            if self.error is None and "straddl" in str(e):  # names no row: find the long one
                self.error = locate_long_record(self.csv, self.block_size)
            self.error = self.error or locate_arrow_error(self.csv, str(e))
            raise self.error from None
        except BadInputError as e:
            self.error = e
            raise
        except UnicodeDecodeError as e:  # a transcoded input (UTF-16, cp1252) cut short or damaged
            self.error = BadInputError(f"the file is not valid {self.csv.layout.encoding} ({e.reason}); "
                                       "a truncated copy?", Where(file=self.csv.path))
            raise self.error from None

    def _read(self) -> Iterator[pa.RecordBatch]:
        batches = self._read_batches() if self.n_rows != 0 else iter(())  # header only: no rows to parse
        for batch in batches:
            batch, found = strip_nul(batch)
            self._nul_after_sample |= found and not self.csv.layout.strip_nul
            kept = drop_blank_rows(batch)
            self.rows -= batch.num_rows - kept.num_rows  # ";;;" rows are blank lines, not data
            yield kept

    def _read_batches(self) -> Iterator[pa.RecordBatch]:
        if self.csv.layout.skipinitialspace:
            yield from self._python_batches()
        elif not self.policy.reject_rows and not self.policy.pads:
            yield from self._fast_batches()
        else:
            yield from self._rejecting_batches()

    def _fast_batches(self) -> Iterator[pa.RecordBatch]:
        converts = any(c.converted for c in self.csv.columns)
        with open_table(self.csv) as data:
            for batch in open_csv(data, self.csv, block_size=self.block_size):
                batch = self._convert(batch) if converts else batch
                self.rows += batch.num_rows
                yield batch

    def _rejecting_batches(self) -> Iterator[pa.RecordBatch]:
        # row numbers of bad rows are known only single-threaded; the readahead thread keeps the overlap
        as_text = self.policy.reject_rows and self.policy.type_mismatch == "reject"
        with open_table(self.csv) as data:
            for batch in open_csv(data, self.csv, use_threads=False, block_size=self.block_size,
                                  on_bad_row=self._bad_row, as_text=as_text):
                if as_text:
                    batch, rejects = split_batch(batch, self.csv.columns, self._good_rows)
                    self._good_rows += batch.num_rows + len(rejects)
                    self._reject(rejects)
                self.rows += batch.num_rows
                yield batch
                if self._kept:
                    yield self._kept_batch()
        if self.policy.over_limit(len(self.rejects), self.rows, final=True):
            raise self._too_many()

    def _python_batches(self) -> Iterator[pa.RecordBatch]:
        """Dialects pyarrow cannot parse (spaces before quotes): Python's csv, values trimmed.

        Slower (about 200k rows/s) but exact; bad rows follow the same policy.
        """
        layout, width = self.csv.layout, self.csv.width
        names = [c.name for c in self.csv.columns]
        with open_text(self.csv, rows=True) as text:
            lines = Lines(text)
            chunk: list[list[str | None]] = []
            where: list[tuple[int, str]] = []  # each chunk row's line and text, for its reject
            last = 0
            for fields in csv_reader(lines, layout.dialect()):
                start, last = last + 1, lines.count
                if not fields or not any(fields):
                    continue
                line = layout.skip_rows + layout.header_lines + start
                row = fields if len(fields) == width else self._python_ragged(fields, width, line)
                if row is None:
                    continue
                chunk.append([f.strip() or None if f is not None else None for f in row[: len(names)]])
                where.append((line, layout.delimiter.join(fields)))
                if len(chunk) >= PYTHON_BATCH_ROWS:
                    yield self._typed(chunk, names, where)
                    chunk, where = [], []
            if chunk:
                yield self._typed(chunk, names, where)

    def _python_ragged(self, fields: list[str], width: int, line: int) -> list[str | None] | None:
        """A ragged row kept by the ragged-row rule (when the policy pads), else rejected or failing the file."""
        reject = Reject(f"expected {width} fields, found {len(fields)}", line=line,
                        raw=self.csv.layout.delimiter.join(fields))
        if not self.policy.reject_rows and not self.policy.pads:
            raise BadInputError(reject.reason, Where(file=self.csv.path, line=line))
        fitted = fit_row(fields, width) if self.policy.pads else None
        if fitted is None:
            self._reject([reject])
        else:
            self._ragged.count(fields, width)
        return fitted

    def _typed(self, chunk: list[list[str | None]], names: list[str],
               where: list[tuple[int, str]]) -> pa.RecordBatch:
        texts = pa.RecordBatch.from_pydict({n: [row[i] for row in chunk] for i, n in enumerate(names)},
                                           schema=pa.schema([(n, pa.string()) for n in names]))
        if self.policy.reject_rows:
            batch, rejects = split_batch(texts, self.csv.columns, 0)
            self._reject([_at(r, *where[r.data_row or 0]) for r in rejects])
        else:
            batch = self._convert(texts, cast_all=True)
        self.rows += batch.num_rows
        return batch

    def _convert(self, batch: pa.RecordBatch, cast_all: bool = False) -> pa.RecordBatch:
        """Locale-format columns arrive as text; the first value that does not convert fails the file."""
        arrays = []
        for i, col in enumerate(self.csv.columns):
            try:
                arrays.append(cast(batch.column(i), col) if cast_all else convert_column(batch.column(i), col))
            except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
                raise self._bad_value(batch, i) from None
        return pa.RecordBatch.from_arrays(arrays, schema=self.csv.arrow_schema())

    def _bad_value(self, batch: pa.RecordBatch, i: int) -> ValueTypeError:
        col = self.csv.columns[i]
        data_row = self.rows + failing(batch.column(i), col)[0] + 1
        line, fields = record_at(self.csv, data_row_to_record(self.csv, data_row))
        return ValueTypeError(f"value is not a valid {col.type} in format {col.parse}",
                              Where(file=self.csv.path, line=line, column=col.name,
                                    value=fields[i] if fields and i < len(fields) else None))

    def _bad_row(self, row: Any) -> str:
        layout = self.csv.layout
        line = layout.skip_rows + layout.header_lines + row.number if row.number else None
        fields = next(reader(row.text, layout.dialect()), [])
        fitted = fit_row(fields, self.csv.width) if fields and self.policy.pads else None
        if fitted is not None:
            self._ragged.count(fields, self.csv.width)
            self._kept.append((fitted, line, row.text))
            return "skip"
        try:
            self._reject([Reject(f"expected {self.csv.width} fields, found {row.actual_columns}", line=line,
                                 raw=row.text)])
        except BadInputError:
            return "error"  # pyarrow stops; _batches raises self.error
        return "skip"

    def _kept_batch(self) -> pa.RecordBatch:
        """The ragged rows kept from the last block, typed like every row; a bad value is still rejected."""
        kept, self._kept = self._kept, []
        names = [c.name for c in self.csv.columns]
        texts = pa.RecordBatch.from_pydict({n: [row[i] for row, _, _ in kept] for i, n in enumerate(names)},
                                           schema=pa.schema([(n, pa.string()) for n in names]))
        batch, rejects = split_batch(texts, self.csv.columns, 0)
        self._reject([_at(r, line, text) for r in rejects for _, line, text in [kept[r.data_row or 0]]])
        self.rows += batch.num_rows
        return batch

    def _reject(self, rejects: list[Reject]) -> None:
        if rejects and not self.policy.reject_rows:  # reject_file (padding on): the first bad row fails it
            first = rejects[0]
            self.error = BadInputError(first.reason, Where(file=self.csv.path, line=first.line,
                                                           column=first.column, value=first.value))
            raise self.error
        self.rejects += rejects
        self.rows += len(rejects)
        if self.policy.over_limit(len(self.rejects), self.rows, final=False) and not self.error:
            self.error = self._too_many()
            raise self.error

    def _too_many(self) -> BadInputError:
        self.locate_rejects()
        first = self.rejects[0]
        return BadInputError(f"{len(self.rejects)} bad rows ({self.policy.allowed()}); nothing loaded. "
                             f"First: {first.reason}",
                             Where(file=self.csv.path, line=first.line, column=first.column, value=first.value))


def _at(reject: Reject, line: int | None, text: str) -> Reject:
    """A reject whose line is already known (a ragged row kept, a Python-read row): no search for it later."""
    reject.line, reject.raw, reject.data_row = line, text.rstrip("\r\n"), None
    return reject


def strip_nul(batch: pa.RecordBatch) -> tuple[pa.RecordBatch, bool]:
    """NUL characters removed from text values, on every target alike (PostgreSQL refuses them in
    text, SQLite would store them): (batch, whether any was found). A scan finds none in most batches."""
    arrays, found = [], False
    for a in batch.columns:
        if pa.types.is_string(a.type) and pc.any(pc.match_substring(a, "\x00")).as_py():
            a, found = pc.replace_substring(a, "\x00", ""), True
        arrays.append(a)
    return (pa.RecordBatch.from_arrays(arrays, schema=batch.schema) if found else batch), found
