"""The shared vocabulary: logical column types, load modes, load statuses and outcome actions.

Each target maps the column types to its own DDL; the readers map them to Arrow types. Keeping
the mapping in one place means a type added here is added everywhere or fails loudly. Modes,
statuses and actions are StrEnums: they are stored and logged as their plain string values
(the tracking table, error.json, JSON logs), and a typo is an AttributeError, not a silent branch.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # pyarrow only where a type becomes an Arrow type: `loader --help` never imports it
    import pyarrow as pa


class Mode(StrEnum):
    """How a load publishes into its table."""

    FULLLOAD = "fullload"  # the file is the whole table; the old version moves to bkp
    APPEND = "append"  # the file's rows are added; the same content is never appended twice
    MERGE = "merge"  # rows are upserted on key columns (and, with delete_missing, the rest deleted)


class Status(StrEnum):
    """A tracking row's status: every load ends loaded, failed or duplicate."""

    LOADING = "loading"
    LOADED = "loaded"
    FAILED = "failed"
    DUPLICATE = "duplicate"


DONE = (Status.LOADED, Status.DUPLICATE)  # the file's content is in the table: archive, never load again


class Action(StrEnum):
    """What the service does with a claimed file after a worker is done with it."""

    ARCHIVED = "archived"  # loaded (or duplicate): moved to archive/
    FAILED = "failed"  # moved to failed/ with <name>.error.json
    RETRY = "retry"  # transient: back in the table's queue after a backoff
    UNAVAILABLE = "unavailable"  # the database is down: dispatch pauses, the file waits
    BUSY = "busy"  # another live process holds the claim or the table: try again shortly
    GONE = "gone"  # the file vanished before it was worked on
    SKIPPED = "skipped"  # backfill: this path was loaded before
    CONFIG = "config"  # the database settings are wrong (login, database, grants): stop (78), the file waits
    LOST = "lost"  # several hosts: another one took the file's table over; this one leaves the file alone


KINDS = ("boolean", "bigint", "decimal", "float", "date", "timestamp", "timestamptz", "text")
MAX_DECIMAL_PRECISION = 38  # SQL Server and Arrow decimal128 both stop at 38 digits


@dataclass(frozen=True)
class ColumnType:
    kind: str
    precision: int | None = None  # decimal only
    scale: int | None = None  # decimal only

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"unknown column type {self.kind!r}; expected one of {', '.join(KINDS)}")
        if self.kind == "decimal":
            p, s = self.precision, self.scale
            if p is None or s is None or not (1 <= p <= MAX_DECIMAL_PRECISION) or not (0 <= s <= p):
                raise ValueError(f"decimal needs 1 <= precision <= 38 and 0 <= scale <= precision, got ({p},{s})")

    def __str__(self) -> str:
        if self.kind == "decimal":
            return f"decimal({self.precision},{self.scale})"
        return self.kind

    def arrow(self) -> pa.DataType:
        import pyarrow as pa

        return {
            "boolean": pa.bool_(),
            "bigint": pa.int64(),
            "float": pa.float64(),
            "date": pa.date32(),
            "timestamp": pa.timestamp("us"),
            "timestamptz": pa.timestamp("us", tz="UTC"),  # offsets in the file are applied: stored as UTC
            "text": pa.string(),  # 32-bit offsets suffice: a batch is bounded by the read block size
        }.get(self.kind) or pa.decimal128(self.precision or 38, self.scale or 0)

    @staticmethod
    def parse(text: str) -> ColumnType:
        """Read a type as written in config or `loader detect` output: 'decimal(18,4)', 'bigint'."""
        t = text.strip().lower().replace(" ", "")
        aliases = {"int": "bigint", "integer": "bigint", "bool": "boolean", "string": "text",
                   "double": "float", "datetime": "timestamp", "numeric": "decimal"}
        if "(" in t and t.endswith(")"):
            name, args = t[:-1].split("(", 1)
            name = aliases.get(name, name)
            if name != "decimal":
                raise ValueError(f"only decimal takes arguments, got {text!r}")
            p, _, s = args.partition(",")
            return ColumnType("decimal", int(p), int(s or 0))
        return ColumnType(aliases.get(t, t))


TEXT = ColumnType("text")


def joined(old: ColumnType, new: ColumnType) -> ColumnType:
    """The narrowest type that holds every value of both: what a table's column widens to when a
    file needs more than it has (widen_types). Only lossless steps: integers widen to decimals that
    keep every digit (or to float, as Delta Lake's type widening does), dates to timestamps;
    anything else that differs meets in text. A join that is `old` needs no change."""
    if old == new or old.kind == "text":
        return old
    if {old.kind, new.kind} <= {"bigint", "decimal"}:
        scale = max(old.scale or 0, new.scale or 0)
        digits = max(_integer_digits(old), _integer_digits(new))
        return ColumnType("decimal", digits + scale, scale) if digits + scale <= MAX_DECIMAL_PRECISION else TEXT
    if (old.kind, new.kind) in (("bigint", "float"), ("float", "bigint")):
        return ColumnType("float")
    if (old.kind, new.kind) in (("date", "timestamp"), ("timestamp", "date")):
        return ColumnType("timestamp")
    return TEXT


def _integer_digits(t: ColumnType) -> int:
    return 19 if t.kind == "bigint" else (t.precision or 0) - (t.scale or 0)


@dataclass(frozen=True)
class Column:
    name: str  # safe SQL identifier (see naming.py)
    type: ColumnType
    source_name: str = ""  # the header as written in the file
    nullable: bool = True
    parse: str | None = None  # a locale format read as text then converted (see convert.py)
    nulls: tuple[str, ...] = ()  # values that mean NULL in this column (a route's null = [...])
    trim: bool = False  # surrounding spaces removed before the value is converted

    @property
    def converted(self) -> bool:
        """Read as text first and converted by convert.py: a locale format, NULL markers or trimming."""
        return bool(self.parse or self.nulls or self.trim)

    def as_dict(self) -> dict[str, object]:
        out: dict[str, object] = {"name": self.name, "source_name": self.source_name, "type": str(self.type)}
        if self.parse:
            out["format"] = self.parse
        if self.nulls:
            out["null"] = list(self.nulls)
        if self.trim:
            out["trim"] = True
        return out
