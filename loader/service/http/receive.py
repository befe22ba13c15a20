"""Receiving a request body onto disk: never whole in memory, limited while it streams.

A raw body (`?name=sales.csv`) or multipart/form-data with a `file` part (what `curl -F` and
browsers send), parsed incrementally by python-multipart. Bytes are hashed as they arrive and
written in ~1 MiB slices from a worker thread, so the event loop never waits on the disk and 20
concurrent uploads hold about 20 MiB of buffers. A name is a file name, never a path: anything
else is refused before a byte is written.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import os
import re
import unicodedata
from pathlib import Path

from python_multipart.exceptions import MultipartParseError
from python_multipart.multipart import MultipartParser, parse_options_header
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request

from ... import routes
from ...config import RouteSettings
from ...errors import LoaderError
from .errors import HttpError

FLUSH_BYTES = 1 << 20  # one write per MiB: few thread hops, and 20 uploads buffer ~20 MiB in all
MAX_NAME_BYTES = 200  # 255 is the file system's limit; failed/ and rejects/ add _2, .error.json, .rejects.csv
FIELD_LIMIT = 64 * 1024  # a non-file form field (e.g. name) larger than this is not a form we sent


def check_name(name: str | None, route: RouteSettings, ref_schema: str) -> str:
    """The upload's name as it will sit in inbox/, or HttpError 400 saying why it cannot."""
    if not name:
        raise HttpError(400, "no file name: send multipart with a filename, or ?name=FILE with a raw body")
    problem = name_problem(name)
    if problem:
        raise HttpError(400, f"file name {name!r} refused: {problem}")
    if not routes.wants(route, name):
        raise HttpError(400, f"file name {name!r}: route {route.name!r} takes only {' '.join(route.patterns)}")
    try:
        routes.destination(route, name, ref_schema)
    except LoaderError as e:
        raise HttpError(400, e.reason) from None
    return name


def name_problem(name: str) -> str | None:
    """Why a name is not a plain file name of inbox/, or None. Pure: tested without a server."""
    if "/" in name or "\\" in name:
        return "it is a path; send a file name"
    if name in (".", "..") or name.startswith("."):
        return "a name starting with '.' is hidden and never loaded"
    if any(unicodedata.category(ch) in ("Cc", "Cf", "Zl", "Zp") for ch in name):
        return "it contains a control character"
    if len(name.encode("utf-8", "surrogatepass")) > MAX_NAME_BYTES:
        return f"longer than {MAX_NAME_BYTES} bytes"
    if name != name.strip():
        return "leading or trailing white space"
    if routes.is_temporary(name):
        return "a temporary name (.part, .tmp, ~…) is never loaded"
    return None


def expected_sha256(request: Request) -> str | None:
    """Content-SHA256 (hex), or the sha-256 of Repr-Digest / Content-Digest (RFC 9530, base64)."""
    hexed = request.headers.get("content-sha256")
    if hexed is not None:
        if not re.fullmatch(r"[0-9A-Fa-f]{64}", hexed.strip()):
            raise HttpError(400, "Content-SHA256 must be 64 hex digits")
        return hexed.strip().lower()
    for header in ("repr-digest", "content-digest"):
        m = re.search(r"sha-256=:([A-Za-z0-9+/=]+):", request.headers.get(header, ""))
        if m:
            try:
                return base64.b64decode(m.group(1), validate=True).hex()
            except binascii.Error:
                raise HttpError(400, f"{header}: sha-256 is not base64") from None
    return None


class Sink:
    """The body's bytes into one new file (O_EXCL): hashed, counted, limited, written off the loop."""

    def __init__(self, path: Path, limit: int):
        self.path, self.limit = path, limit
        self.file = open(path, "xb")  # noqa: SIM115 - closed by finish() or discard()
        self.sha = hashlib.sha256()
        self.size = 0
        self.buf = bytearray()

    def feed(self, data: bytes) -> None:
        self.size += len(data)
        if self.size > self.limit:
            raise HttpError(413, f"the upload is larger than the limit of {self.limit:,} bytes "
                                 "(service.upload_max_bytes)")
        self.sha.update(data)
        self.buf += data

    async def drain(self, force: bool = False) -> None:
        if len(self.buf) >= FLUSH_BYTES or (force and self.buf):
            data = bytes(self.buf)
            self.buf.clear()
            await run_in_threadpool(self.file.write, data)

    async def finish(self) -> str:
        """Everything on disk (fsync: a 202 means the file survives a crash); returns the SHA-256."""
        await self.drain(force=True)
        await run_in_threadpool(self._sync)
        return self.sha.hexdigest()

    def _sync(self) -> None:
        self.file.flush()
        os.fsync(self.file.fileno())
        self.file.close()

    def discard(self) -> None:
        self.file.close()
        self.path.unlink(missing_ok=True)


async def receive(request: Request, sink: Sink, truncate: bool = False) -> str | None:
    """Stream the body into `sink`; returns the file name multipart carried (None for a raw body).

    `truncate`: stop quietly at the sink's limit instead of failing (detection needs the first MBs).
    """
    ctype, params = parse_options_header(request.headers.get("content-type", ""))
    if ctype == b"multipart/form-data":
        boundary = params.get(b"boundary")
        if not boundary:
            raise HttpError(400, "multipart/form-data without a boundary")
        return await _multipart(request, sink, boundary, truncate)
    async for chunk in request.stream():
        if truncate and sink.size + len(chunk) > sink.limit:
            sink.feed(chunk[: sink.limit - sink.size])
            break
        sink.feed(chunk)
        await sink.drain()
    return None


async def _multipart(request: Request, sink: Sink, boundary: bytes, truncate: bool) -> str | None:
    form = _Form(sink, truncate)
    parser = MultipartParser(boundary, form.callbacks())  # type: ignore[arg-type]
    try:
        async for chunk in request.stream():
            parser.write(chunk)
            await sink.drain()
            if form.full:
                break
        if not form.full:
            parser.finalize()
    except MultipartParseError as e:
        raise HttpError(400, f"malformed multipart body: {e}") from None
    if not form.seen_file:
        raise HttpError(400, "multipart body without a 'file' part")
    return form.fields.get("name") or form.filename


class _Form:
    """python-multipart callbacks: the 'file' part goes to the sink, small fields are kept."""

    def __init__(self, sink: Sink, truncate: bool):
        self.sink, self.truncate = sink, truncate
        self.fields: dict[str, str] = {}
        self.filename: str | None = None
        self.seen_file = self.full = False
        self._header = b""
        self._headers: dict[bytes, bytes] = {}
        self._field: str | None = None
        self._value = bytearray()
        self._to_file = False

    def callbacks(self) -> dict:  # type: ignore[type-arg]
        return {"on_part_begin": self._begin, "on_header_field": self._hfield, "on_header_value": self._hvalue,
                "on_header_end": self._hend, "on_headers_finished": self._hdone, "on_part_data": self._data,
                "on_part_end": self._end}

    def _begin(self) -> None:
        self._headers, self._header, self._field, self._to_file = {}, b"", None, False
        self._value.clear()

    def _hfield(self, data: bytes, start: int, end: int) -> None:
        self._header += data[start:end]

    def _hvalue(self, data: bytes, start: int, end: int) -> None:
        key = self._header.lower()
        self._headers[key] = self._headers.get(key, b"") + data[start:end]

    def _hend(self) -> None:
        self._header = b""

    def _hdone(self) -> None:
        _, opts = parse_options_header(self._headers.get(b"content-disposition", b""))
        name = opts.get(b"name", b"").decode("utf-8", "replace")
        if name == "file" and not self.seen_file:
            self.seen_file = self._to_file = True
            raw = opts.get(b"filename")
            self.filename = raw.decode("utf-8", "surrogateescape") if raw is not None else None
        else:
            self._field = name

    def _data(self, data: bytes, start: int, end: int) -> None:
        if self._to_file:
            piece = data[start:end]
            if self.truncate and self.sink.size + len(piece) >= self.sink.limit:
                piece, self.full = piece[: self.sink.limit - self.sink.size], True
            self.sink.feed(piece)
        elif self._field is not None:
            self._value += data[start:end]
            if len(self._value) > FIELD_LIMIT:
                raise HttpError(400, f"form field {self._field!r} is larger than {FIELD_LIMIT} bytes")

    def _end(self) -> None:
        if self._field is not None:
            self.fields[self._field] = self._value.decode("utf-8", "replace")
        self._to_file = False
