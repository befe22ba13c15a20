"""Pipelined COPY of raw CSV chunks over several PostgreSQL connections, and socket tuning.

Why: the server's own `COPY … FROM 'file'` spends ~1.63 µs per row parsing on one core. One
reader thread here reads the file once (hashing it on the way), cuts it at record ends and has
pyarrow validate each chunk with the load's types (readers/csv/chunks.py); N connections each
take the next chunk as they free up, so N backends parse at once. Measured on 2 cores, 3M rows:
2 streams 1.26x the server's own COPY with validation; 3 streams no better than 2.

A refused row is named by its stream: PostgreSQL's "COPY t, line N" counts the records of that
connection's COPY, which spans the chunks it took; each stream remembers where its chunks start
in the file, so line N (physical lines, in CSV mode) becomes the file's own line. PostgreSQL
counts a quoted line break only once it has seen the end of a first record (it compares with the
line ending it found), so the quoted breaks of a stream's first record are added back.
"""

from __future__ import annotations

import contextlib
import os
import re
import socket
import stat
import threading
from collections.abc import Callable, Generator, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

import pyarrow as pa

from ..errors import DatabaseRefusedError, DatabaseUnavailableError, LoaderError, Where
from ..readers import ahead
from .base import RowLocator, batches_of

# 4 MiB send buffer: the default (~208 KB on a unix socket) is ~2 ms of server work, so the
# client blocked on every batch; 4 MB alone took ADBC's binary COPY from 0.63x to 0.92x of the
# server's own COPY (1M rows, 2 cores). The kernel caps it at net.core.wmem_max.
SEND_BUFFER_BYTES = 4 << 20
_SO_SNDBUFFORCE = 32  # Linux: above wmem_max, where the process may (CAP_NET_ADMIN)
# chunks validated ahead of the senders: enough to keep 2 streams fed, ~8 MB of raw text
CHUNKS_AHEAD = 4
# the chunk size readers/csv/chunks.py cuts (2 MiB): a file of two chunks or less takes one stream
RAW_CHUNK_HINT = 2 << 20
_COPY_CONTEXT = re.compile(r"COPY [^,]+, line (\d+)(?:, column ([^:\n]+))?")


def tune_socket(fd: int, size: int = SEND_BUFFER_BYTES) -> None:
    """A bigger send buffer on the connection's socket (a duplicate fd shares the socket)."""
    try:
        sock = socket.socket(fileno=os.dup(fd))
    except OSError:
        return
    with contextlib.closing(sock):
        for option in (socket.SO_SNDBUF, _SO_SNDBUFFORCE):
            with contextlib.suppress(OSError):
                sock.setsockopt(socket.SOL_SOCKET, option, size)
                if sock.getsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF) >= size:
                    return


def open_sockets() -> set[int]:
    """The process's socket descriptors (Linux /proc), to find the one a driver just opened."""
    try:
        names = os.listdir("/proc/self/fd")
    except OSError:
        return set()
    found = set()
    for name in names:
        with contextlib.suppress(OSError, ValueError):
            if stat.S_ISSOCK(os.fstat(int(name)).st_mode):
                found.add(int(name))
    return found


def tuned_connect(connect: Callable[[], Any]) -> Any:
    """Connect through a driver that hides its socket (ADBC) and enlarge the new socket's buffer."""
    before = open_sockets()
    conn = connect()
    for fd in open_sockets() - before:
        tune_socket(fd)
    return conn


@dataclass
class _Sent:
    """Where one stream's pieces start: in its own COPY (its "line N") and in the file.

    Binary COPY counts rows, so a piece is (rows before in the stream, file data rows before);
    CSV COPY counts physical lines, so a raw chunk is (lines before in the stream, its first line).
    """

    starts: list[tuple[int, int]] = field(default_factory=list)
    count: int = 0
    uncounted: int = 0  # quoted line breaks of the stream's first record, which COPY does not count

    def add(self, first: int, n: int, uncounted: int = 0) -> None:
        if not self.starts:
            self.uncounted = uncounted
        self.starts.append((self.count, first))
        self.count += n

    def data_row(self, line: int) -> int:
        """COPY's 1-based row in this stream -> the file's 1-based data row."""
        before, first = next(((b, f) for b, f in reversed(self.starts) if b < line), (0, 0))
        return first + line - before

    def file_line(self, line: int) -> int:
        """COPY's 1-based physical line in this stream -> the file's physical line."""
        if line > 1:
            line += self.uncounted
        before, first = next(((b, f) for b, f in reversed(self.starts) if b < line), (0, 1))
        return first + line - before - 1


class _Shared:
    """One iterator, many consumer threads: the next chunk to whichever stream frees up first."""

    def __init__(self, items: Iterator[Any]):
        self.items, self.lock, self.stop = items, threading.Lock(), threading.Event()

    def next(self) -> Any:
        with self.lock:
            if self.stop.is_set():
                raise _Stopped
            return next(self.items, None)


class _Stopped(Exception):
    """Another stream failed: this one aborts its COPY (psycopg sends CopyFail)."""


def copy_chunks(conns: Sequence[Any], statement: str, chunks: Iterator[Any], file: str,
                map_error: Callable[[BaseException], LoaderError], quote: bytes = b'"') -> int:
    """COPY every chunk over the connections, each taking the next free one; the rows COPY reported.

    Errors of any stream stop the others and surface here, the first one first; a refused row is
    named by the file's physical line and the column.
    """
    ahead_chunks: Generator[Any, None, None] = ahead.readahead(chunks, CHUNKS_AHEAD)  # type: ignore[assignment]
    shared = _Shared(ahead_chunks)
    results: list[int] = [0] * len(conns)
    errors: list[BaseException] = []

    def stream(i: int) -> None:
        try:
            results[i] = _copy_stream(conns[i], statement, shared, file, map_error, quote)
        except _Stopped:
            pass
        except BaseException as e:
            errors.append(e)
            shared.stop.set()

    threads = [threading.Thread(target=stream, args=(i,), name=f"copy-{i}", daemon=True) for i in range(1, len(conns))]
    for t in threads:
        t.start()
    try:
        stream(0)  # the first stream in this thread: one connection needs no thread at all
    finally:
        for t in threads:
            t.join()
        ahead_chunks.close()  # stops the reader thread when a stream gave up
    if errors:
        raise errors[0]
    return sum(results)


def _copy_stream(conn: Any, statement: str, shared: _Shared, file: str,
                 map_error: Callable[[BaseException], LoaderError], quote: bytes) -> int:
    import psycopg

    sent = _Sent()
    try:
        with conn.cursor() as cur:
            with cur.copy(statement) as copy:
                while (chunk := shared.next()) is not None:
                    uncounted = 0 if sent.starts else first_record_breaks(chunk.data, quote)
                    sent.add(chunk.first_line, chunk.lines, uncounted)
                    copy.write(chunk.data)
            return int(cur.rowcount)
    except psycopg.Error as e:
        raise copy_error(e, sent, file, map_error) from None


def first_record_breaks(data: bytes, quote: bytes = b'"') -> int:
    """Line breaks inside quotes before the first record's end (a doubled quote toggles twice)."""
    breaks, quoted, at = 0, False, 0
    while (nl := data.find(b"\n", at)) >= 0:
        quoted ^= data.count(quote, at, nl) % 2 == 1
        if not quoted:
            return breaks
        breaks, at = breaks + 1, nl + 1
    return breaks


def copy_error(e: Any, sent: _Sent, file: str, map_error: Callable[[BaseException], LoaderError]) -> LoaderError:
    """A refused row as the file's line and column; any other failure as the database's."""
    error = map_error(e)
    diag = getattr(e, "diag", None)
    context = (getattr(diag, "context", None) or "") if diag else ""
    m = _COPY_CONTEXT.search(context)
    if isinstance(error, DatabaseRefusedError) and m:
        primary = (getattr(diag, "message_primary", None) or str(e)).strip()
        where = Where(file=file, line=sent.file_line(int(m.group(1))), column=m.group(2))
        return DatabaseRefusedError(f"PostgreSQL refused the value: {primary}", where, sqlstate=error.sqlstate)
    if isinstance(error, DatabaseUnavailableError):
        return DatabaseUnavailableError(f"PostgreSQL connection failed during COPY: {error.reason}",
                                        sqlstate=error.sqlstate)
    return error


def ingest_split(conns: Sequence[Any], ingest: Callable[[Any, pa.RecordBatchReader], int],
                 reader: pa.RecordBatchReader, locate: RowLocator,
                 copy_error: Callable[[Exception, RowLocator], Exception]) -> int:
    """Arrow batches over several bulk connections (ADBC), each taking the next batch as it frees up.

    A stream's own row numbers map back to the file's data rows as in copy_chunks. A one-batch
    input uses one connection: a second stream would only add a round trip.
    """
    import adbc_driver_manager

    batches = batches_of(reader)
    head = [b for b in (next(batches, None), next(batches, None)) if b is not None]
    counted = _counted(head, batches)
    shared = _Shared(counted)
    n = len(conns) if len(head) > 1 else 1
    results: list[int] = [0] * n
    errors: list[BaseException] = []

    def stream(i: int) -> None:
        sent = _Sent()

        def parts() -> Iterator[pa.RecordBatch]:
            while (item := shared.next()) is not None:
                sent.add(item[0], item[1].num_rows)
                yield item[1]

        try:
            results[i] = ingest(conns[i], pa.RecordBatchReader.from_batches(reader.schema, parts()))
        except _Stopped:
            pass
        except adbc_driver_manager.Error as e:
            errors.append(copy_error(e, lambda row, col, why: locate(sent.data_row(row), col, why)))
            shared.stop.set()
        except BaseException as e:
            errors.append(e)
            shared.stop.set()

    threads = [threading.Thread(target=stream, args=(i,), name=f"ingest-{i}", daemon=True) for i in range(1, n)]
    for t in threads:
        t.start()
    try:
        stream(0)
    finally:
        for t in threads:
            t.join()
    if errors:
        raise errors[0]
    return -1 if any(r < 0 for r in results) else sum(results)


def _counted(head: list[pa.RecordBatch], rest: Iterator[pa.RecordBatch]) -> Iterator[tuple[int, pa.RecordBatch]]:
    """(data rows before the batch, batch): where each batch starts in the file."""
    rows = 0
    for batch in _chain(head, rest):
        yield rows, batch
        rows += batch.num_rows


def _chain(head: list[pa.RecordBatch], rest: Iterator[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
    yield from head
    yield from rest


def alive(conn: Any) -> bool:
    """A kept connection still answers (a restarted server or a dropped link: open a new one)."""
    try:
        conn.execute("SELECT 1")
        return not conn.closed
    except Exception:
        with contextlib.suppress(Exception):
            conn.close()
        return False


def adbc_alive(conn: Any) -> bool:
    try:
        with contextlib.closing(conn.cursor()) as cur:
            cur.execute("SELECT 1")
            cur.fetchall()
        conn.commit()
        return True
    except Exception:
        with contextlib.suppress(Exception):
            conn.close()
        return False

