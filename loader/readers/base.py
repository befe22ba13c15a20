"""The reader seam: every input (a CSV file, Parquet, JSON, Excel, XML, a query) is one Reader.

A reader turns one input into Arrow record batches typed as the table's columns, in bounded
memory, and can say where a row came from when the database or the policy refuses it. The rest
of the engine (plan, staging, publish, tracking, rejects, the service) sees only this module:
`load.py` imports no format.

Two steps, because a load decides things between them: `detect` finds the columns (and the
format's own layout); the load may then conform them to an existing table or widen one after a
value did not fit; `stream` reads the input with the columns it is given.

Choosing a reader: the content decides first (magic bytes: Parquet's PAR1, a zip's PK, gzip),
the file name second, and delimited text is the default for anything that decodes as text.
"""

from __future__ import annotations

import io
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import IO, Any, ClassVar, Protocol

import pyarrow as pa

from ..coltypes import Column
from ..errors import BadInputError, NoInputError, UsageError, Where
from ..rejects import Reject, RowPolicy

HEAD_BYTES = 8192  # enough for every magic number and a first look at text


@dataclass(frozen=True)
class Input:
    """One input as the readers see it: a name for messages and a way to read its bytes again.

    `open` returns a fresh binary stream positioned at the start each time it is called (the
    detector, the hash, the reader and the error path each read it). A reader never opens
    `path` itself: the service may hand out an already-opened, checked descriptor instead.
    """

    path: str  # for messages, the tracking row and the rejects file's name; may not exist (stdin, a member)
    size: int  # bytes; -1 when not known before the end (a decompressed stream, stdin): never seek on those
    open: Callable[[], IO[bytes]]
    name: str = ""  # the file name the format is guessed from (a zip member's, an upload's)

    @staticmethod
    def of_path(path: str) -> Input:
        """A file by its path; NoInputError when it is missing or unreadable, as any read of it later."""
        try:
            size = os.path.getsize(path)
        except OSError as e:
            raise _unreadable(path, e) from None
        return Input(path, size, lambda: open(path, "rb"), os.path.basename(path))

    @staticmethod
    def of_fd(fd: int, path: str, size: int, name: str = "") -> Input:
        """An already-opened, checked descriptor (loader.opened): every read goes through it, never the name.

        Each `open()` is an independent stream over the same descriptor (positioned reads), ending
        at `size`, the size when the file was opened: bytes appended later are never read.
        """
        return Input(path, size, lambda: io.BufferedReader(_FdRaw(fd, size), 1 << 16), name or os.path.basename(path))

    @property
    def file_name(self) -> str:
        return self.name or os.path.basename(self.path)

    def head(self, n: int = HEAD_BYTES) -> bytes:
        try:
            with self.open() as f:
                return f.read(n)
        except OSError as e:
            raise _unreadable(self.path, e) from None


class _FdRaw(io.RawIOBase):
    """A seekable read-only stream over a shared descriptor by os.pread: its own position, its own end.

    The descriptor belongs to whoever opened it; closing this stream leaves it open.
    """

    def __init__(self, fd: int, size: int):
        super().__init__()
        self.fd, self.size, self.pos = fd, size, 0

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        want = min(len(buffer), self.size - self.pos)
        if want <= 0:
            return 0
        view = memoryview(buffer).cast("B")[:want]
        n = os.preadv(self.fd, [view], self.pos) if hasattr(os, "preadv") else _pread_into(self.fd, view, self.pos)
        self.pos += n
        return n

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        base = {io.SEEK_SET: 0, io.SEEK_CUR: self.pos, io.SEEK_END: self.size}[whence]
        self.pos = max(0, base + offset)
        return self.pos

    def tell(self) -> int:
        return self.pos


def _pread_into(fd: int, view: memoryview, pos: int) -> int:
    data = os.pread(fd, len(view), pos)
    view[: len(data)] = data
    return len(data)


def _unreadable(path: str, e: OSError) -> NoInputError:
    return NoInputError(f"cannot read the file: {e.strerror or e}", Where(file=path))


@dataclass
class ReadOptions:
    """What a route or the command line pins for reading; each beats detection. Format-specific
    settings (a sheet, an XML element path, a JSON key) travel in `extra` by name."""

    format: str | None = None  # a registry name: csv, parquet, json, excel, xml; None = detect
    encoding: str | None = None
    delimiter: str | None = None
    quotechar: str | None = None
    escapechar: str | None = None
    has_header: bool | None = None
    skip_rows: int | None = None  # CSV: lines above the table (a title, notes); None = detected
    column_types: dict[str, str] = field(default_factory=dict)  # by safe name or source name
    # the command line's --type: a pin naming no column of the file is a usage error (a route's pins
    # may name columns only some of its files have)
    strict_pins: bool = False
    # How much to read, not what: `load_file` sets these from settings.load.
    sample_bytes: int = 4 * 1024 * 1024  # a few MB show the dialect and each column's usual values
    sample_rows: int = 5000
    block_size: int = 1 << 20  # bytes parsed per batch: bounds a worker's memory
    max_columns: int = 10_000  # wider rows are refused before any per-column work (load.max_columns)
    extra: dict[str, Any] = field(default_factory=dict)


@dataclass
class Detection:
    """What a reader found out about one input, in the terms every stage understands.

    `columns` is replaced (never mutated in place) when a load conforms them to an existing
    table or widens one; `layout` is the reader's own description, opaque to everyone else.
    """

    format: str
    columns: list[Column]
    layout: Any = None
    n_rows: int | None = None  # data rows when known up front; the load refuses to publish another count
    notes: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, object]:
        """For `loader detect --json` and the tracking row's detected_format."""
        details = self.layout.as_dict() if hasattr(self.layout, "as_dict") else {}
        out: dict[str, object] = {"format": self.format, **details,
                                  "columns": [c.as_dict() for c in self.columns], "notes": list(self.notes)}
        if self.n_rows is not None:
            out["n_rows"] = self.n_rows
        return out

    def arrow_schema(self) -> pa.Schema:
        return pa.schema([pa.field(c.name, c.type.arrow()) for c in self.columns])


class Stream(Protocol):
    """One pass over an input: batches typed as the detection's columns, counted as they pass."""

    rows: int  # rows read so far: loaded or rejected
    rejects: list[Reject]
    error: BadInputError | None  # the reader's own precise error, when it stopped on one

    def reader(self) -> pa.RecordBatchReader: ...

    def locate(self, data_row: int, column: str | None, reason: str) -> BadInputError:
        """A database's 'data row N (1-based), column c' as the input's own line and value."""

    def locate_rejects(self) -> None:
        """Fill in line numbers and original text of the rejects (an extra pass, error path only)."""


class Reader(Protocol):
    format: ClassVar[str]  # the registry name, as a route's `format` pins it

    def detect(self, source: Input, options: ReadOptions) -> Detection: ...

    def stream(self, source: Input, detection: Detection, options: ReadOptions, policy: RowPolicy) -> Stream: ...


@dataclass(frozen=True)
class _Entry:
    reader: Reader
    suffixes: tuple[str, ...]
    sniff: Callable[[bytes], bool] | None


_REGISTRY: dict[str, _Entry] = {}
_DEFAULT = "csv"  # text that no other reader claims is delimited text


def register(reader: Reader, suffixes: Sequence[str] = (), sniff: Callable[[bytes], bool] | None = None) -> None:
    """Add a reader: `sniff(head)` claims an input by its first bytes, `suffixes` by its name."""
    _REGISTRY[reader.format] = _Entry(reader, tuple(s.lower() for s in suffixes), sniff)


def formats() -> list[str]:
    _load_builtin()
    return sorted(_REGISTRY)


def reader_for(source: Input, pinned: str | None = None) -> Reader:
    """The reader for an input: pinned by config, else by content, else by name, else delimited text."""
    _load_builtin()
    if pinned:
        entry = _REGISTRY.get(pinned)
        if entry is None:
            raise UsageError(f"format {pinned!r} is not one of {', '.join(formats())}")
        return entry.reader
    head = source.head()
    for entry in _REGISTRY.values():
        if entry.sniff is not None and entry.sniff(head):
            return entry.reader
    name = source.file_name.lower()
    for entry in sorted(_REGISTRY.values(), key=lambda e: -max((len(s) for s in e.suffixes), default=0)):
        if any(name.endswith(s) for s in entry.suffixes):
            return entry.reader
    return _REGISTRY[_DEFAULT].reader


def _load_builtin() -> None:
    """Readers register themselves on import; importing here keeps `readers.base` free of cycles."""
    if _DEFAULT not in _REGISTRY:
        from . import builtin  # noqa: F401
