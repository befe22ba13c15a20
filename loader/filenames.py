"""Names the loader gives files fit the file system: at most 255 bytes (NAME_MAX), whatever was dropped.

A 250-byte name is valid in inbox/, but `<name>.error.json`, `<name>_2.csv` or a temporary name
built from it is not, and a move or a write that fails on ENAMETOOLONG left files in processing/
forever or in failed/ without their error record. Every derived name goes through `fit`: the
stem is cut (on a UTF-8 character boundary) and a short hash of the full name keeps two long
names that share a prefix apart. Pure functions, tested without a file system.
"""

from __future__ import annotations

import hashlib
import os

NAME_MAX = 255  # bytes per path component on ext4, XFS, btrfs, tmpfs, NTFS (in UTF-16 units) and APFS
_HASH_LEN = 8  # hex digits of the full name's SHA-1 kept in a cut name: 4 billion to one against a clash


def fit(name: str, suffix: str = "", limit: int = NAME_MAX) -> str:
    """`name + suffix` if it fits in `limit` bytes, else name cut to make room (its extension kept)."""
    if _len(name + suffix) <= limit:
        return name + suffix
    stem, ext = os.path.splitext(name)
    if _len(ext) > 32:  # a "extension" that long is part of the name
        stem, ext = name, ""
    tag = "~" + hashlib.sha1(name.encode("utf-8", "surrogateescape")).hexdigest()[:_HASH_LEN]
    room = limit - _len(tag + ext + suffix)
    return _cut(stem, max(room, 1)) + tag + ext + suffix


def numbered(name: str, n: int, reserve: int = 0, limit: int = NAME_MAX) -> str:
    """customers.csv, customers_2.csv, …: the extension stays last, and `reserve` bytes are left free
    (failed/ keeps room for the `.error.json` beside the file)."""
    stem, ext = os.path.splitext(name)
    tail = ext if n <= 1 else f"_{n}{ext}"
    if _len(stem + tail) + reserve <= limit:
        return stem + tail
    return fit(stem, tail, limit - reserve)


def _len(text: str) -> int:
    return len(text.encode("utf-8", "surrogateescape"))


def _cut(text: str, limit: int) -> str:
    """The longest prefix of `text` within `limit` UTF-8 bytes, never half a character."""
    raw = text.encode("utf-8", "surrogateescape")[:limit]
    return raw.decode("utf-8", "ignore") if raw else ""
