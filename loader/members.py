"""A zip of several files: each member is loaded as its own file, one after the other.

An archive of monthly extracts (`sales_2024_01.csv`, `sales_2024_02.csv`, ...) or of a whole set
of tables arrives as one zip. Each data member becomes its own load (its own table from its own
name unless the request names one, its own transaction and tracking row), in name order, so a
history appends in date order. Each member's tracking row holds the SHA-256 of the member's
content: that is what tells two members apart, and what refuses the same member appended twice.
A zip with one data member, or one whose member is pinned (`member = ...`), is one load as before.

The members' outcomes fold into one result for the caller (the service moves the zip once): it
is loaded when every member loaded, failed (with the first failing member named) otherwise;
members that loaded before a failure stay loaded, each one complete.
"""

from __future__ import annotations

import dataclasses
from typing import Any

from .coltypes import Status
from .readers import Input, ReadOptions
from .readers.compressed import codec_of, members

__all__ = ["combine", "member_options", "zip_members"]

MEMBER_HASH = "member_hash"  # ReadOptions.extra: hash the pinned member's content, not the zip


def zip_members(source: Input, options: ReadOptions) -> list[str] | None:
    """The names of the members to load one by one, or None when the input is one load."""
    if options.format not in (None, "compressed") or options.extra.get("member"):
        return None
    head = source.head(8)
    if codec_of(head, "") != "zip" or _workbook(source):
        return None
    names = sorted(m.path[len(source.path) + 1:] for m in members(source, options))
    return names if len(names) > 1 else None


def _workbook(source: Input) -> bool:
    from .readers.excel import sniff  # an xlsx/ods is a zip too

    return bool(sniff(source.head()))


def member_options(options: ReadOptions, name: str) -> ReadOptions:
    return dataclasses.replace(options, extra={**options.extra, "member": name, MEMBER_HASH: True})


def hashed_input(source: Input, options: ReadOptions) -> Input:
    """What the tracking row's SHA-256 is taken of: the member when it is loaded as its own file."""
    if not options.extra.get(MEMBER_HASH):
        return source
    from .readers.compressed import choose_member

    return choose_member(source, options)


def combine(path: str, parts: list[Any]) -> Any:
    """One LoadResult for the zip from its members' (loaded when all are; else the first failure's)."""
    failed = [p for p in parts if p.status not in (Status.LOADED, Status.DUPLICATE)]
    first = failed[0] if failed else parts[0]
    status = first.status if failed else (Status.DUPLICATE if all(p.status == Status.DUPLICATE for p in parts)
                                          else Status.LOADED)
    error = (f"member {first.path[len(path) + 1:]}: {first.error}" if failed else None)
    return dataclasses.replace(
        first, path=path, status=status, error=error, parts=parts,
        table=", ".join(dict.fromkeys(p.table for p in parts if p.table)),
        rows_read=sum(p.rows_read for p in parts), rows_loaded=sum(p.rows_loaded for p in parts),
        rows_rejected=sum(p.rows_rejected for p in parts), seconds=sum(p.seconds for p in parts),
        exit_code=first.exit_code if failed else max(p.exit_code for p in parts if p.status == status))
