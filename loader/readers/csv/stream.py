"""Stream a delimited file as Arrow record batches with the detected types, in bounded memory.

The reader never holds the file: pyarrow parses one block at a time (see BLOCK_SIZE) and the
target consumes each batch before the next is parsed. When pyarrow refuses a value, the
error is turned into one that names the physical line, the column and the value; that
search re-reads the file only on the error path, so the fast path pays nothing for it.
"""

from __future__ import annotations

import hashlib
import io
import os
import queue
import re
import threading
from collections.abc import Callable, Iterator
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv

from ...coltypes import Column, FileFormat
from ...errors import BadInputError, ValueTypeError, Where
from ...rejects import Reject, RowPolicy, cast, failing, locate, split_batch
from .detect import column_index
from .dialect import Dialect, csv_reader
from .encoding import reader_codec
from .formats import convert
from .infer import FALSE_VALUES, TRUE_VALUES

# pyarrow's default 1 MiB block: measured peak RSS 150-210 MB per worker; 4 MiB blocks
# used 300-340 MB and were no faster (`python -m bench memory`, 1M rows x 12 columns).
BLOCK_SIZE = 1 << 20
# Batches parsed ahead in a thread while the database ingests the previous ones: parsing
# (one core) overlaps the bulk write (the other). Two keeps memory at a few blocks.
READAHEAD = 2
_DONE = object()
MAX_BLOCK_SIZE = 256 << 20  # a row longer than this is refused rather than risking the memory budget
PYTHON_BATCH_ROWS = 16_384  # the Python reader's batch: a few MB of strings


def parse_options(fmt: FileFormat) -> pacsv.ParseOptions:
    # newlines_in_values costs some parse speed but a quoted line break anywhere in a 100 MB
    # file would otherwise split a row; correctness first.
    return pacsv.ParseOptions(delimiter=fmt.delimiter or "\x1f", quote_char=fmt.quotechar if fmt.quoting else False,
                              double_quote=fmt.escapechar is None, escape_char=fmt.escapechar or False,
                              newlines_in_values=fmt.quoting, ignore_empty_lines=True)


def convert_options(fmt: FileFormat, as_text: bool = False) -> pacsv.ConvertOptions:
    # Only an unquoted empty field is NULL: "NA", "NULL", "N/A" are values (a country code,
    # a product name) and a quoted "" is an empty string, not a missing one.
    return pacsv.ConvertOptions(
        column_types={c.name: pa.string() if as_text or c.parse else c.type.arrow() for c in fmt.columns},
        include_columns=[c.name for c in fmt.columns],
        null_values=[""], strings_can_be_null=True, quoted_strings_can_be_null=False,
        true_values=TRUE_VALUES, false_values=FALSE_VALUES,
    )


def read_options(fmt: FileFormat, use_threads: bool = True, block_size: int = BLOCK_SIZE) -> pacsv.ReadOptions:
    codec = "utf8" if fmt.encoding.startswith("utf-8") else (
        reader_codec(fmt.encoding, fmt.bom) if fmt.rows_offset == 0 else fmt.encoding)
    # the header is skipped by starting after it (rows_offset), not by skip_rows, which
    # counts raw lines and would split a header with a quoted line break
    return pacsv.ReadOptions(column_names=[c.name for c in fmt.columns] + fmt.extra_columns, use_threads=use_threads,
                             block_size=block_size, encoding=codec)


class _Window(io.RawIOBase):
    """The bytes of a file between the table's first line and its trailer: all the reader sees."""

    def __init__(self, path: str, start: int, end: int):
        self.f = open(path, "rb")  # noqa: SIM115 - closed by close()
        self.f.seek(start)
        self.left = end - start

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        view = memoryview(buffer)[: max(0, self.left)]
        n = self.f.readinto(view)
        self.left -= n
        return n

    def close(self) -> None:
        self.f.close()
        super().close()


def open_table(path: str, fmt: FileFormat) -> io.BufferedReader | str:
    """The file, or a window on it when a preamble or trailer must be skipped."""
    if not fmt.rows_offset and not fmt.trailer_bytes:
        return path
    end = os.path.getsize(path) - fmt.trailer_bytes
    return io.BufferedReader(_Window(path, fmt.rows_offset, end), buffer_size=1 << 20)


def open_csv(path: str, fmt: FileFormat, use_threads: bool = True, block_size: int = BLOCK_SIZE,
             on_bad_row: Callable[[Any], str] | None = None, as_text: bool = False) -> pacsv.CSVStreamingReader:
    parse = parse_options(fmt)
    parse.invalid_row_handler = on_bad_row
    return pacsv.open_csv(open_table(path, fmt), read_options=read_options(fmt, use_threads, block_size),
                          parse_options=parse, convert_options=convert_options(fmt, as_text))


class CsvStream:
    """Batches of one file, counted as they pass; bad rows become located errors or rejects."""

    def __init__(self, path: str, fmt: FileFormat, block_size: int = BLOCK_SIZE, policy: RowPolicy | None = None):
        # a block must hold the longest row: rows seen in the sample set a floor
        self.path, self.fmt = path, fmt
        self.block_size = min(MAX_BLOCK_SIZE, max(block_size, 2 * fmt.longest_row + (64 << 10)))
        self.policy = policy or RowPolicy()
        self.rows = 0  # rows read: loaded or rejected
        self.rejects: list[Reject] = []
        self.error: BadInputError | None = None
        self._good_rows = 0

    def reader(self, readahead: int = READAHEAD) -> pa.RecordBatchReader:
        batches = self._batches() if readahead <= 0 else _ahead(self._batches(), readahead)
        return pa.RecordBatchReader.from_batches(self.fmt.arrow_schema(), batches)

    def _batches(self) -> Iterator[pa.RecordBatch]:
        try:
            yield from self._read()
        except pa.ArrowInvalid as e:
            self.error = self.error or locate_arrow_error(self.path, self.fmt, str(e))
            raise self.error from None
        except BadInputError as e:
            self.error = e
            raise

    def _read(self) -> Iterator[pa.RecordBatch]:
        batches = self._read_batches() if self.fmt.n_rows != 0 else iter(())  # header only: no rows to parse
        batches = (strip_nul(b) for b in batches) if self.fmt.strip_nul else batches
        for batch in batches:
            kept = drop_blank_rows(batch)
            self.rows -= batch.num_rows - kept.num_rows  # ";;;" rows are blank lines, not data
            yield kept

    def _read_batches(self) -> Iterator[pa.RecordBatch]:
        if self.fmt.skipinitialspace:
            yield from self._python_batches()
            return
        if not self.policy.reject_rows:
            for batch in open_csv(self.path, self.fmt, block_size=self.block_size):
                batch = self._convert(batch) if any(c.parse for c in self.fmt.columns) else batch
                self.rows += batch.num_rows
                yield batch
            return
        # row numbers of bad rows are known only single-threaded; the readahead thread keeps the overlap
        as_text = self.policy.type_mismatch == "reject"
        for batch in open_csv(self.path, self.fmt, use_threads=False, block_size=self.block_size,
                              on_bad_row=self._bad_row, as_text=as_text):
            if as_text:
                batch, rejects = split_batch(batch, self.fmt, self._good_rows)
                self._good_rows += batch.num_rows + len(rejects)
                self._reject(rejects)
            self.rows += batch.num_rows
            yield batch
        if self.policy.over_limit(len(self.rejects), self.rows, final=True):
            raise self._too_many()

    def _python_batches(self) -> Iterator[pa.RecordBatch]:
        """Dialects pyarrow cannot parse (spaces before quotes): Python's csv, values trimmed.

        Slower (about 200k rows/s) but exact; bad rows follow the same policy.
        """
        width = len(self.fmt.columns) + len(self.fmt.extra_columns)
        names = [c.name for c in self.fmt.columns]
        with open_text(self.path, self.fmt, rows=True) as text:
            lines = _Lines(text)
            chunk: list[list[str | None]] = []
            last = 0
            for fields in csv_reader(lines, _dialect(self.fmt)):
                start, last = last + 1, lines.count
                if not fields or not any(fields):
                    continue
                if len(fields) != width:
                    self._python_bad_row(fields, width, self.fmt.skip_rows + self.fmt.header_lines + start)
                    continue
                chunk.append([f.strip() or None for f in fields[: len(names)]])
                if len(chunk) >= PYTHON_BATCH_ROWS:
                    yield self._typed(chunk, names)
                    chunk = []
            if chunk:
                yield self._typed(chunk, names)

    def _python_bad_row(self, fields: list[str], width: int, line: int) -> None:
        reject = Reject(f"expected {width} fields, found {len(fields)}", line=line, raw=self.fmt.delimiter.join(fields))
        if not self.policy.reject_rows:
            raise BadInputError(reject.reason, Where(file=self.path, line=line))
        self._reject([reject])

    def _typed(self, chunk: list[list[str | None]], names: list[str]) -> pa.RecordBatch:
        texts = pa.RecordBatch.from_pydict({n: [row[i] for row in chunk] for i, n in enumerate(names)},
                                           schema=pa.schema([(n, pa.string()) for n in names]))
        if self.policy.reject_rows:
            batch, rejects = split_batch(texts, self.fmt, self._good_rows)
            self._good_rows += texts.num_rows
            self._reject(rejects)
        else:
            batch = self._convert(texts, cast_all=True)
        self.rows += batch.num_rows
        return batch

    def _convert(self, batch: pa.RecordBatch, cast_all: bool = False) -> pa.RecordBatch:
        """Locale-format columns arrive as text; the first value that does not convert fails the file."""
        arrays = []
        for i, col in enumerate(self.fmt.columns):
            try:
                arrays.append(cast(batch.column(i), col) if cast_all else convert_column(batch.column(i), col, i))
            except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
                index = failing(batch.column(i), col)[0]
                data_row = self.rows + index + 1
                line, fields = record_at(self.path, self.fmt, data_row_to_record(self.fmt, data_row))
                raise ValueTypeError(f"value is not a valid {col.type} in format {col.parse}",
                                     Where(file=self.path, line=line, column=col.name,
                                           value=fields[i] if fields and i < len(fields) else None)) from None
        return pa.RecordBatch.from_arrays(arrays, schema=self.fmt.arrow_schema())

    def _bad_row(self, row: Any) -> str:
        width = len(self.fmt.columns) + len(self.fmt.extra_columns)
        line = self.fmt.skip_rows + self.fmt.header_lines + row.number if row.number else None
        try:
            self._reject([Reject(f"expected {width} fields, found {row.actual_columns}", line=line, raw=row.text)])
        except BadInputError:
            return "error"  # pyarrow stops; _batches raises self.error
        return "skip"

    def _reject(self, rejects: list[Reject]) -> None:
        self.rejects += rejects
        self.rows += len(rejects)
        if self.policy.over_limit(len(self.rejects), self.rows, final=False) and not self.error:
            self.error = self._too_many()
            raise self.error

    def _too_many(self) -> BadInputError:
        locate_rejects(self.path, self.fmt, self.rejects)
        first = self.rejects[0]
        limit = self.policy.max_rejects
        allowed = f"{limit:g} allowed" if limit >= 1 else f"{limit:.2%} of rows allowed"
        return BadInputError(f"{len(self.rejects)} bad rows ({allowed}); nothing loaded. First: {first.reason}",
                             Where(file=self.path, line=first.line, column=first.column, value=first.value))


def convert_column(arr: pa.Array, col: Column, index: int = 0) -> pa.Array:
    return convert(arr, col.type.kind, col.parse, col.type.arrow()) if col.parse else arr


def drop_blank_rows(batch: pa.RecordBatch) -> pa.RecordBatch:
    """Rows whose every field is empty (Excel's ";;;" separators) carry nothing: not rows."""
    if batch.num_columns < 2 or batch.num_rows == 0:
        return batch
    filled = pc.is_valid(batch.column(0))
    for column in batch.columns[1:]:
        filled = pc.or_(filled, pc.is_valid(column))
    return batch if pc.all(filled).as_py() else batch.filter(filled)


def strip_nul(batch: pa.RecordBatch) -> pa.RecordBatch:
    arrays = [pc.replace_substring(a, "\x00", "") if pa.types.is_string(a.type) else a for a in batch.columns]
    return pa.RecordBatch.from_arrays(arrays, schema=batch.schema)


def locate_rejects(path: str, fmt: FileFormat, rejects: list[Reject]) -> None:
    with open_text(path, fmt) as text:
        locate(text, fmt, rejects)


def open_text(path: str, fmt: FileFormat, rows: bool = False) -> io.TextIOWrapper:
    """The table's text from its first line (or first data row), decoded."""
    start = fmt.rows_offset if rows else fmt.data_offset
    codec = reader_codec(fmt.encoding, fmt.bom) if start == 0 else fmt.encoding.replace("-sig", "")
    raw = _Window(path, start, os.path.getsize(path) - (fmt.trailer_bytes if rows else 0))
    return io.TextIOWrapper(io.BufferedReader(raw), encoding=codec, errors="replace", newline="")


_ROW_IN_ERROR = re.compile(r"Row #(\d+)")


def locate_arrow_error(path: str, fmt: FileFormat, message: str) -> BadInputError:
    """Find the first bad row by re-reading single-threaded (only then does pyarrow number rows)."""
    first = _first_error(path, fmt) or message
    index = column_index(first)
    m = _ROW_IN_ERROR.search(first)
    record = int(m.group(1)) if m else None
    reason = _reason(first, fmt, index)
    if record is None:
        return BadInputError(reason, Where(file=path))
    line, fields = record_at(path, fmt, record + (1 if fmt.has_header else 0))  # pyarrow starts after the header
    column = fmt.columns[index].name if index is not None and index < len(fmt.columns) else None
    value = fields[index] if index is not None and fields is not None and index < len(fields) else None
    kind = ValueTypeError if column is not None and "UTF8" not in first else BadInputError
    return kind(reason, Where(file=path, line=line, column=column, value=value))


def _first_error(path: str, fmt: FileFormat) -> str | None:
    try:
        for _ in open_csv(path, fmt, use_threads=False):
            pass
    except pa.ArrowInvalid as e:
        return str(e)
    return None


def _reason(message: str, fmt: FileFormat, index: int | None) -> str:
    if "invalid UTF8" in message:
        return "the text is not valid UTF-8"
    if "straddl" in message:
        return "a row is longer than the read block; raise load.block_size (bytes) above the longest row"
    m = re.search(r"Expected (\d+) columns, got (\d+)", message)
    if m:
        return f"expected {m.group(1)} fields, found {m.group(2)}"
    if index is not None and index < len(fmt.columns):
        detail = message.split(": ", 2)[-1] if "Row #" in message else message.split(": ", 1)[-1]
        return f"value is not a valid {fmt.columns[index].type} ({detail})"
    return message


def record_at(path: str, fmt: FileFormat, record: int) -> tuple[int | None, list[str] | None]:
    """Physical line and fields of the 1-based `record`, counted from the table's first line."""
    with open_text(path, fmt) as text:
        lines = _Lines(text)
        seen, last_line = 0, 0
        for row in csv_reader(lines, _dialect(fmt)):
            start, last_line = last_line + 1, lines.count
            if not row:
                continue
            seen += 1
            if seen == record:
                return fmt.skip_rows + start, row
    return None, None


class _Lines:
    """Counts physical lines as csv.reader consumes them ('\r', '\n' and '\r\n' each end one)."""

    def __init__(self, f: io.TextIOWrapper):
        self.f, self.count = f, 0

    def __iter__(self) -> _Lines:
        return self

    def __next__(self) -> str:
        line = next(self.f)
        self.count += 1
        return line


def _dialect(fmt: FileFormat) -> Dialect:
    return Dialect(fmt.delimiter, fmt.quotechar if fmt.quoting else "", fmt.escapechar, fmt.skipinitialspace)


def data_row_to_record(fmt: FileFormat, data_row: int) -> int:
    """A database counts data rows from 1; the table's first line may be a header."""
    return data_row + (1 if fmt.has_header else 0)


def sha256_of(path: str) -> str:
    with open(path, "rb") as f:
        return hashlib.file_digest(f, "sha256").hexdigest()


def locate_data_row(path: str, fmt: FileFormat, data_row: int, column: str | None, reason: str) -> BadInputError:
    """Turn a database's 'data row N, column c' into the file's physical line and value."""
    from ...errors import DatabaseRefusedError

    line, fields = record_at(path, fmt, data_row_to_record(fmt, data_row))
    names = [c.name for c in fmt.columns]
    index = names.index(column) if column in names else None
    value = fields[index] if fields is not None and index is not None and index < len(fields) else None
    return DatabaseRefusedError(reason, Where(file=path, line=line, column=column, value=value))


def _ahead(batches: Iterator[pa.RecordBatch], depth: int) -> Iterator[pa.RecordBatch]:
    """Run `batches` in a thread, `depth` items ahead; its exception re-raises here, in order."""
    q: queue.Queue[object] = queue.Queue(maxsize=depth)
    stop = threading.Event()

    def produce() -> None:
        try:
            for item in batches:
                if not _put(q, item, stop):
                    return
            _put(q, _DONE, stop)
        except BaseException as e:  # handed to the consumer, raised there
            _put(q, e, stop)

    worker = threading.Thread(target=produce, name="csv-readahead", daemon=True)
    worker.start()
    try:
        while (item := q.get()) is not _DONE:
            if isinstance(item, BaseException):
                raise item
            yield item  # type: ignore[misc]
    finally:
        stop.set()  # the consumer gave up (database error): let the producer end
        worker.join()


def _put(q: queue.Queue[object], item: object, stop: threading.Event) -> bool:
    while not stop.is_set():
        try:
            q.put(item, timeout=0.1)
            return True
        except queue.Full:
            continue
    return False
