"""A delimited file as record-aligned raw chunks, each validated by the loader's own Arrow typing.

The PostgreSQL fast path ships a file's own bytes to `COPY … (FORMAT csv)` instead of encoding
Arrow batches: the server parses them, the client only reads, hashes and checks. That is exact
only where the server would read every byte as the loader does, so `raw_csv` admits a file only
when its dialect, encoding and column types are ones PostgreSQL parses the same way (UTF-8, a
one-byte delimiter, `"` quoting with doubled quotes, no locale formats, no NUL stripping, no
extra columns, whole-file policy), and every chunk is still parsed by pyarrow with the load's
own types before it is sent: the server is looser (it rounds extra decimals, accepts `+1` in a
bigint and non-ISO dates), so it is never trusted to refuse what the loader would refuse.
Anything a chunk shows that the plain path would treat differently (a value Arrow refuses, a
row of empty fields the loader drops, a record longer than the chunk limit) raises
FastPathMismatch: the load then runs the plain path, which reports or handles it as always.

The SHA-256 of the whole file comes from the same reads (header and trailer included), so the
fast path reads the file once.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from dataclasses import dataclass

import pyarrow as pa
import pyarrow.csv as pacsv

from ...errors import FastPathMismatch
from ...rejects import RowPolicy
from .arrow import convert_options, drop_blank_rows, parse_options
from .layout import CsvSource

# 2 MiB per chunk: measured best with 2 COPY streams (1 MiB to 16 MiB made no difference in
# speed); the pipeline holds at most CHUNKS_AHEAD + streams chunks, so memory stays ~10 MB.
CHUNK_BYTES = 2 << 20
# A record longer than this is left to the plain path (which bounds its own block size).
MAX_RECORD_BYTES = 64 << 20
READ_BYTES = 1 << 20  # one read of the file: hashed, then cut into chunks
_UTF8 = ("utf-8", "utf-8-sig", "ascii")
# the kinds whose text PostgreSQL reads as the same value wherever pyarrow accepts it (see tests)
_EXACT_KINDS = frozenset({"bigint", "float", "decimal", "boolean", "date", "timestamp", "timestamptz", "text"})


@dataclass(frozen=True)
class CopyFormat:
    """How the server must read the chunks: what a COPY … (FORMAT csv) statement says."""

    columns: tuple[str, ...]
    delimiter: str
    quote: str
    force_null: tuple[str, ...]  # typed columns: a quoted "" is NULL there, as the loader reads it


@dataclass(frozen=True)
class Chunk:
    data: bytes
    first_row: int  # data rows before this chunk (0-based)
    rows: int  # data rows in it, as pyarrow counted them
    first_line: int  # the file's physical line (1-based) the chunk starts on

    @property
    def lines(self) -> int:
        """Physical lines: what COPY's "line N" counts in CSV mode (a quoted line break is one more)."""
        return self.data.count(b"\n") + (0 if self.data.endswith(b"\n") else 1)


class RawCsv:
    """One pass over a file's rows as validated raw chunks; `sha256` and `rows` once it is exhausted."""

    def __init__(self, csv: CsvSource, fmt: CopyFormat, chunk_bytes: int = CHUNK_BYTES):
        self.csv, self.format, self.chunk_bytes = csv, fmt, chunk_bytes
        self.rows = 0
        self.sha256 = ""
        self._parse = parse_options(csv.layout)
        self._convert = convert_options(csv.columns)
        self._names = csv.names

    @property
    def size(self) -> int:
        return self.csv.source.size

    @property
    def source(self) -> object:
        return self.csv.source

    @property
    def path(self) -> str:
        return self.csv.path

    def chunks(self) -> Iterator[Chunk]:
        for data, first_line in self._records():
            rows = self.validate(data)
            yield Chunk(data, self.rows, rows, first_line)
            self.rows += rows

    def validate(self, data: bytes) -> int:
        """Parse the chunk with the load's own types; FastPathMismatch for whatever the plain path must see."""
        options = pacsv.ReadOptions(column_names=self._names, use_threads=False, encoding="utf8",
                                    block_size=max(len(data), 1 << 20) + 1)
        try:
            table = pacsv.read_csv(pa.py_buffer(data), read_options=options, parse_options=self._parse,
                                   convert_options=self._convert)
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError) as e:
            raise FastPathMismatch(f"a chunk at data row {self.rows + 1} does not parse as typed: "
                                   f"{str(e).splitlines()[0]}") from None
        for batch in table.to_batches():
            if drop_blank_rows(batch).num_rows != batch.num_rows:
                raise FastPathMismatch("rows of empty fields (the loader drops them, COPY would not)")
        return int(table.num_rows)

    def _records(self) -> Iterator[tuple[bytes, int]]:
        """The table's bytes (after the header, before the trailer) cut after record ends, each with
        the physical line it starts on; hashes every byte of the file on the way."""
        layout, size = self.csv.layout, self.csv.source.size
        start, end = layout.rows_offset, (size - layout.trailer_bytes if size >= 0 else -1)
        quote = layout.quotechar.encode() if layout.quoting else b""
        digest, pos, carry, line = hashlib.sha256(), 0, b"", 1
        with self.csv.source.open() as f:
            while block := f.read(READ_BYTES):
                digest.update(block)
                lo, hi = max(0, start - pos), len(block) if end < 0 else max(0, min(len(block), end - pos))
                line += block.count(b"\n", 0, min(lo, len(block)))  # the preamble and header lines
                pos += len(block)
                if lo < hi:
                    carry += block[lo:hi]
                while len(carry) >= self.chunk_bytes:
                    cut = record_end(carry, quote, self.chunk_bytes) or record_end(carry, quote)
                    if cut <= 0:
                        if len(carry) > MAX_RECORD_BYTES:
                            raise FastPathMismatch(f"a record longer than {MAX_RECORD_BYTES >> 20} MiB")
                        break  # one record longer than a chunk: read on
                    yield carry[:cut], line
                    line += carry.count(b"\n", 0, cut)
                    carry = carry[cut:]
        self.sha256 = digest.hexdigest()
        if carry:
            yield carry, line


def record_end(data: bytes, quote: bytes, limit: int = -1) -> int:
    """Just past the last newline before `limit` that ends a record (an even number of quotes before
    it); 0 if none.

    Every chunk starts at a record boundary, so the quotes counted from its start say whether a
    newline is inside a quoted value; doubled quotes ("") count twice and keep the parity right.
    """
    pos = len(data) if limit < 0 else min(limit, len(data))
    total = data.count(quote, 0, pos) if quote else 0
    end = pos
    while (pos := data.rfind(b"\n", 0, pos)) >= 0:
        if not quote or (total - data.count(quote, pos, end)) % 2 == 0:
            return pos + 1
    return 0


def raw_csv(csv: CsvSource, policy: RowPolicy | None = None) -> RawCsv | None:
    """The file's rows as raw COPY chunks, or None when the server would not read them as the loader does."""
    if why_not_raw(csv, policy or RowPolicy()):
        return None
    typed = tuple(c.name for c in csv.columns if c.type.kind != "text")
    return RawCsv(csv, CopyFormat(tuple(c.name for c in csv.columns), csv.layout.delimiter,
                                  csv.layout.quotechar, typed))


def why_not_raw(csv: CsvSource, policy: RowPolicy) -> str | None:
    """Why COPY could read this file differently from the loader (None: it cannot)."""
    layout = csv.layout
    checks = [
        (policy.reject_rows, "bad rows are rejected one by one"),
        (policy.pads, "ragged rows are padded"),
        (layout.encoding not in _UTF8, f"encoding {layout.encoding}"),
        (layout.bom and layout.rows_offset == 0, "a byte-order mark before the first row"),
        (len(layout.delimiter.encode()) != 1 or layout.delimiter in "\r\n\"", "the delimiter"),
        (not layout.quoting or layout.quotechar != '"' or layout.escapechar is not None, "the quoting"),
        (layout.skipinitialspace, "spaces before values"),
        (layout.strip_nul, "NUL characters to strip"),
        (bool(layout.extra_columns), "columns that are not loaded"),
        (csv.width < 2, "one column (a blank line would be a row for COPY)"),
        (any(c.converted for c in csv.columns), "locale formats, NULL markers or trimming"),
        (any(c.type.kind not in _EXACT_KINDS for c in csv.columns), "a column type"),
    ]
    return next((why for failed, why in checks if failed), None)


