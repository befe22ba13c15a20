"""Types pinned by hand (`--type COLUMN=TYPE`): checked before any work, against the file's columns after
detection, so a typo is a usage error naming what would have been valid, never silently ignored."""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from .coltypes import KINDS, Column, ColumnType
from .errors import UsageError

VALID_TYPES = ", ".join([*(k for k in KINDS if k != "decimal"), "decimal(P,S)"])


def check_types(pins: Mapping[str, str]) -> None:
    """Every pinned type must parse: the list of valid ones beats a traceback."""
    for name, typ in pins.items():
        try:
            ColumnType.parse(typ)
        except ValueError as e:
            raise UsageError(f"--type {name}={typ}: not a column type ({e}); valid types: {VALID_TYPES}") from None


def check_columns(pins: Iterable[str], columns: list[Column]) -> None:
    """A pin must name a column of the file, by its table name or its header as written."""
    known = {c.name for c in columns} | {c.source_name for c in columns if c.source_name}
    unknown = [p for p in pins if p not in known]
    if unknown:
        listed = ", ".join(c.name for c in columns)
        raise UsageError(f"--type {', '.join(unknown)}: no such column; the file's columns: {listed}")
