"""Which text encoding a file's first bytes are in, and whether they are text at all.

Pure logic over bytes. Order: a byte-order mark decides; else UTF-16 without a BOM shows as
NULs in every other byte; else strict UTF-8; else Windows-1252 (what Excel and most Western
exports write), or Latin-1 where 1252 leaves a byte undefined. A sample that decodes to many
control characters is a binary file and is refused, never loaded as garbage.
"""

from __future__ import annotations

import codecs

from ...errors import BadInputError, Where

BOMS = [(codecs.BOM_UTF8, "utf-8-sig"), (codecs.BOM_UTF16_LE, "utf-16-le"), (codecs.BOM_UTF16_BE, "utf-16-be")]
_CP1252_UNDEFINED = {0x81, 0x8D, 0x8F, 0x90, 0x9D}
_CONTROL_LIMIT = 0.01  # a text export has none; 1% of control characters means binary data


# Files that are often dropped by mistake where CSVs go: say what they are.
SIGNATURES = [(b"\x1f\x8b", "gzip-compressed"), (b"PK\x03\x04", "zip (or xlsx)"), (b"\x89PNG", "PNG image"),
              (b"%PDF", "PDF"), (b"\xd0\xcf\x11\xe0", "Excel 97 (xls)"), (b"BZh", "bzip2-compressed"),
              (b"\xfd7zXZ\x00", "xz-compressed"), (b"PAR1", "Parquet"), (b"7z\xbc\xaf", "7-zip")]


def detect(sample: bytes) -> tuple[str, int]:
    """(encoding, length of its byte-order mark)."""
    for magic, kind in SIGNATURES:
        if sample.startswith(magic):
            raise BadInputError(f"this is not a text file but a {kind} file (binary); nothing loaded")
    for bom, name in BOMS:
        if sample.startswith(bom):
            return name, len(bom)
    if sample.startswith((codecs.BOM_UTF32_LE, codecs.BOM_UTF32_BE)):
        raise BadInputError("UTF-32 files are not supported; save the file as UTF-8")
    utf16 = _utf16_without_bom(sample[:4096])
    if utf16:
        return utf16, 0
    try:
        sample.decode("utf-8")
        return "utf-8", 0
    except UnicodeDecodeError as e:
        if e.start >= len(sample) - 3 and e.reason == "unexpected end of data":
            return "utf-8", 0  # the sample cut a character in half
    return ("latin-1" if _CP1252_UNDEFINED & set(sample) else "cp1252"), 0


def _utf16_without_bom(head: bytes) -> str | None:
    if len(head) < 16:
        return None
    even, odd = head[0::2], head[1::2]
    if odd.count(0) > 0.4 * len(odd) and even.count(0) < 0.05 * len(even):
        return "utf-16-le"
    if even.count(0) > 0.4 * len(even) and odd.count(0) < 0.05 * len(odd):
        return "utf-16-be"
    return None


def decode(sample: bytes, encoding: str, bom: int, file: str | None = None) -> str:
    """Decode a sample that may end mid-character; refuse binary data with a clear error."""
    codec = "utf-16" if encoding.startswith("utf-16") and bom else encoding
    data = sample if codec == "utf-16" else sample[bom:]
    decoder = codecs.getincrementaldecoder(codec)(errors="strict")
    try:
        text = decoder.decode(data, final=False)
    except UnicodeDecodeError as e:
        line = data.count(b"\n", 0, e.start) + 1
        raise BadInputError(f"the file is not valid {encoding} (byte {data[e.start:e.start + 4]!r})",
                            Where(file=file, line=line)) from None
    if _looks_binary(text):
        raise BadInputError("this is not a text file (binary data: control characters); nothing loaded",
                            Where(file=file))
    return text


def _looks_binary(text: str) -> bool:
    head = text[:8192]
    if not head:
        return False
    control = sum(1 for ch in head if ord(ch) < 32 and ch not in "\t\n\r\f\v\x00")
    nul = head.count("\x00")  # stray NUL padding is common in exports; mostly NUL is not text
    return control / len(head) > _CONTROL_LIMIT or nul / len(head) > 0.1


def reader_codec(encoding: str, bom: bool) -> str:
    """The codec that reads the whole file from byte 0: it must consume the BOM itself."""
    if encoding.startswith("utf-16") and bom:
        return "utf-16"
    return "utf-8-sig" if encoding.startswith("utf-8") else encoding
