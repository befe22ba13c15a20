"""Compressed inputs: gzip, bzip2, xz and zstd streams, and zip archives of one or more files.

The compression is found by its magic bytes (the name second); the file inside is read by the
reader its own name (sales.csv.gz -> sales.csv) or content chooses, through an Input whose
`open()` decompresses as it reads: nothing is extracted to disk (Parquet, which must seek, makes
its own bounded copy). The tracking row's SHA-256 stays the hash of the file as delivered,
since the load hashes the outer Input.

A zip member is an Input of its own (`members()`): ReadOptions.extra["member"] names the one to
read, by default the only data member; several members without a choice are a clear error
listing them. Decompression is bounded against zip bombs: output beyond MAX_RATIO times the
compressed size (and beyond RATIO_FLOOR) or beyond MAX_BYTES stops the read with a BadInputError.
"""

from __future__ import annotations

import bz2
import dataclasses
import gzip
import io
import lzma
import os
import zipfile
import zlib
from dataclasses import dataclass
from typing import IO, Any, ClassVar

import zstandard

from ..errors import BadInputError, Where
from ..rejects import RowPolicy
from . import base
from .common import bad_file

# Deflate cannot exceed about 1032:1, so a zip or gzip stream past 1000:1 is built to be a bomb.
# Measured with gzip -6: the generated JSON lines table of bench/readers.py compresses 8.8:1 and
# 200,000 copies of one short row 410:1, so real files, even very repetitive ones, pass. xz and
# zstd go beyond 1000:1 on such files: the floor lets them through up to its size.
MAX_RATIO = 1000
RATIO_FLOOR = 256 << 20  # 256 MiB: any file may decompress to this much whatever its ratio
MAX_BYTES = 1 << 40  # 1 TiB: more than a worker streams in a day at 100 MB/s (8.6 TB is 24 h)
MAGIC = {b"\x1f\x8b": "gzip", b"BZh": "bzip2", b"\xfd7zXZ\x00": "xz", b"\x28\xb5\x2f\xfd": "zstd",
         b"PK\x03\x04": "zip", b"PK\x05\x06": "zip"}
SUFFIXES = {".gz": "gzip", ".gzip": "gzip", ".bz2": "bzip2", ".xz": "xz", ".zst": "zstd", ".zstd": "zstd",
            ".zip": "zip"}
_ERRORS = (OSError, EOFError, zlib.error, lzma.LZMAError, zstandard.ZstdError, zipfile.BadZipFile,
           RuntimeError, ValueError)


def codec_of(head: bytes, name: str) -> str | None:
    for magic, codec in MAGIC.items():
        if head.startswith(magic):
            return codec
    return SUFFIXES.get(os.path.splitext(name.lower())[1])


class Bounded(io.RawIOBase):
    """A decompressing stream that counts what it hands out and refuses a bomb."""

    def __init__(self, inner: IO[bytes], limit: int, path: str, codec: str, closers: list[Any]):
        self.inner, self.limit, self.path, self.codec, self.closers = inner, limit, path, codec, closers
        self.out = 0

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        try:
            data = self.inner.read(len(buffer))
        except _ERRORS as e:
            raise BadInputError(f"corrupt {self.codec} data after {self.out} bytes: {e}", Where(self.path)) from None
        n = len(data)
        self.out += n
        if self.out > self.limit:
            raise BadInputError(f"decompresses to more than {self.limit} bytes: refused as a possible "
                                f"compression bomb (limit: {MAX_RATIO}x its size, at least {RATIO_FLOOR >> 20} MiB)",
                                Where(self.path))
        buffer[:n] = data
        return n

    def close(self) -> None:
        for c in [self.inner, *self.closers]:
            c.close()
        super().close()


def limit_for(compressed: int, options: base.ReadOptions) -> int:
    ratio = options.extra.get("max_ratio", MAX_RATIO)
    return min(options.extra.get("max_uncompressed_bytes", MAX_BYTES), max(RATIO_FLOOR, ratio * compressed))


def _decompressor(codec: str, raw: IO[bytes]) -> IO[bytes]:
    if codec == "gzip":
        return gzip.GzipFile(fileobj=raw, mode="rb")  # type: ignore[return-value]
    if codec == "bzip2":
        return bz2.BZ2File(raw)
    if codec == "xz":
        return lzma.LZMAFile(raw)
    return zstandard.ZstdDecompressor().stream_reader(raw, read_across_frames=True)  # type: ignore[return-value]


def stream_input(source: base.Input, codec: str, options: base.ReadOptions) -> base.Input:
    """The decompressed content of a gzip/bzip2/xz/zstd file, named without its suffix."""
    limit = limit_for(source.size, options)

    def opener() -> IO[bytes]:
        raw = source.open()
        return io.BufferedReader(Bounded(_decompressor(codec, raw), limit, source.path, codec, [raw]), 1 << 20)

    stem, ext = os.path.splitext(source.file_name)
    # size -1: a decompressed stream's length is known only at its end (readers must not seek to it)
    return base.Input(source.path, -1, opener, stem if ext.lower() in SUFFIXES else source.file_name)


# -- zip -----------------------------------------------------------------------------------------
def _data_members(z: zipfile.ZipFile) -> list[zipfile.ZipInfo]:
    """Members that are files: no folders, no macOS resource forks, no hidden files."""
    return [i for i in z.infolist() if not i.is_dir() and not i.filename.startswith("__MACOSX/")
            and not os.path.basename(i.filename).startswith(".")]


def _open_zip(source: base.Input) -> tuple[IO[bytes], zipfile.ZipFile]:
    f = source.open()
    try:
        return f, zipfile.ZipFile(f)
    except _ERRORS as e:
        f.close()
        raise bad_file(source.path, "zip", e) from None


def members(source: base.Input, options: base.ReadOptions | None = None) -> list[base.Input]:
    """Each data member of a zip as an Input of its own (each is loaded as its own file)."""
    options = options or base.ReadOptions()
    f, z = _open_zip(source)
    with f, z:
        return [_member_input(source, info, options) for info in _data_members(z)]


def _member_input(source: base.Input, info: zipfile.ZipInfo, options: base.ReadOptions) -> base.Input:
    limit = limit_for(info.compress_size, options)
    path = f"{source.path}/{info.filename}"
    if info.file_size > limit:
        raise BadInputError(f"declares {info.file_size} bytes uncompressed from {info.compress_size}: refused as a "
                            "possible compression bomb", Where(path))

    def opener() -> IO[bytes]:
        f, z = _open_zip(source)
        try:
            inner = z.open(info)
        except _ERRORS as e:
            z.close()
            f.close()
            raise BadInputError(f"cannot read this zip member: {e}", Where(path)) from None
        return io.BufferedReader(Bounded(inner, limit, path, "zip", [z, f]), 1 << 20)

    return base.Input(path, info.file_size, opener, os.path.basename(info.filename))


def choose_member(source: base.Input, options: base.ReadOptions) -> base.Input:
    found = members(source, options)
    wanted = options.extra.get("member")
    if wanted:
        chosen = [m for m in found if m.path.endswith("/" + wanted) or m.file_name == wanted]
        if not chosen:
            raise BadInputError(f"no member {wanted!r} in this zip; it holds {_names(source, found)}",
                                Where(source.path))
        return chosen[0]
    if len(found) == 1:
        return found[0]
    if not found:
        raise BadInputError("the zip holds no files", Where(source.path))
    raise BadInputError(f"the zip holds {len(found)} files {_names(source, found)}: name one with member=..., "
                        "or load each as its own file", Where(source.path))


def _names(source: base.Input, found: list[base.Input]) -> list[str]:
    return [m.path[len(source.path) + 1:] for m in found]


# -- the reader ------------------------------------------------------------------------------------
@dataclass
class CompressedLayout:
    codec: str
    inner_format: str  # the registry name of the reader of the content
    inner: Any  # that reader's own layout
    member: str | None = None

    def as_dict(self) -> dict[str, object]:
        details = self.inner.as_dict() if hasattr(self.inner, "as_dict") else {}
        return {"compression": self.codec, **({"member": self.member} if self.member else {}), **details}


class CompressedReader:
    format: ClassVar[str] = "compressed"

    def inner(self, source: base.Input, options: base.ReadOptions) -> tuple[str, base.Input]:
        codec = codec_of(source.head(), source.file_name)
        if codec is None:
            raise BadInputError("not a gzip, bzip2, xz, zstd or zip file", Where(source.path))
        inner = choose_member(source, options) if codec == "zip" else stream_input(source, codec, options)
        if inner.head(512)[257:262] == b"ustar":
            raise BadInputError("a tar archive: extract it, or compress each file on its own", Where(source.path))
        return codec, inner

    def detect(self, source: base.Input, options: base.ReadOptions) -> base.Detection:
        codec, inner = self.inner(source, options)
        reader = base.reader_for(inner, options.extra.get("inner_format"))
        found = reader.detect(inner, options)
        member = inner.path[len(source.path) + 1:] if codec == "zip" else None
        layout = CompressedLayout(codec, reader.format, found.layout, member)
        return base.Detection(found.format, found.columns, layout, found.n_rows,
                              [*found.notes, f"{codec}-compressed" + (f" member {member!r}" if member else "")])

    def stream(self, source: base.Input, detection: base.Detection, options: base.ReadOptions,
               policy: RowPolicy) -> base.Stream:
        layout: CompressedLayout = detection.layout
        extra = {**options.extra, "member": layout.member} if layout.member else options.extra
        _, inner = self.inner(source, _with_extra(options, extra))
        reader = base.reader_for(inner, layout.inner_format)
        found = base.Detection(layout.inner_format, detection.columns, layout.inner, detection.n_rows,
                               detection.notes)
        return reader.stream(inner, found, options, policy)


def _with_extra(options: base.ReadOptions, extra: dict[str, Any]) -> base.ReadOptions:
    return dataclasses.replace(options, extra=extra)


def sniff(head: bytes) -> bool:
    """Every compression magic; a zip only when it is not a workbook (Excel claims those)."""
    from .excel import sniff as is_workbook

    return codec_of(head, "") is not None and not is_workbook(head)


base.register(CompressedReader(), suffixes=list(SUFFIXES), sniff=sniff)
