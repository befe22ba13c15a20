"""The target interface: the only place that knows which database it talks to is a target.

A target does three jobs, each behind its own small seam: staging (fill a staging table from
an Arrow stream through the database's bulk path), tracking (targets/tracker.py, reached as
`target.tracker`) and publishing (targets/publish.py runs one algorithm inside the target's
one transaction with its dialect's statements). Callers read `target.capabilities`, never a
database kind.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable, Collection, Iterable, Iterator, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

import pyarrow as pa

from ..coltypes import Column, ColumnType
from ..naming import MAX_IDENTIFIER_BYTES, truncate_bytes
from ..track import LoadRecord

if TYPE_CHECKING:
    from .sql.merge import Dialect
    from .tracker import Tracker

BACKUP_STAMP = "%Y%m%d%H%M%S"

# One statement with its parameters, in the driver's own placeholder style.
Statement = tuple[str, tuple[object, ...]]


@dataclass(frozen=True)
class PublishPlan:
    """What one publish does; built by the loader, carried out in one transaction by a target."""

    mode: str  # fullload | append | merge
    ref_schema: str
    bkp_schema: str
    stage_schema: str
    table: str
    stage: str
    columns: tuple[Column, ...]
    backups_keep: int
    backup_name: str  # used only when a fullload replaces an existing table
    keys: tuple[str, ...] = ()  # merge: the key columns
    duplicate_keys: str = "last"  # merge: which row of a key repeated in the file wins (last | first | fail)
    delete_missing: bool = False  # merge: rows whose key the file lacks are deleted
    lineage: tuple[str, ...] = ()  # the loader's own columns: a merge sets them but never compares them
    new_columns: tuple[Column, ...] = ()  # schema_drift = add_columns: added to ref.T before the rows go in
    retype: tuple[tuple[Column, ColumnType], ...] = ()  # widen_types: ref.T's columns widened (from the type given)


@dataclass(frozen=True)
class Capabilities:
    """What a caller may rely on, declared once per target instead of asked of its kind."""

    name: str  # for messages only ("PostgreSQL"), never to branch on
    # can append by bulk-loading straight into ref.T inside the publish transaction
    direct_append: bool = False
    # publish attempts when the transaction loses a lock or deadlock race (SQL Server's Sch-M on swap)
    publish_attempts: int = 1
    # the tracking table can coordinate several hosts (row claims); SQLite is single-host by nature
    multi_host: bool = True
    # COPYs a reader's raw CSV chunks itself (RawCsvTarget: write_stage_raw, append_direct_raw)
    raw_csv: bool = False


# A data row number (1-based, as the database counts it) -> a located error for the user.
RowLocator = Callable[[int, str | None, str], Exception]


class Session(Protocol):
    """One connection in the driver's placeholder style, its errors already mapped to loader errors.

    Outside a publish every statement commits on its own; inside `Target.publishing` the same
    session runs inside the one transaction, which is how the tracking row joins the publish.
    """

    def execute(self, sql: str, params: Sequence[object] = ()) -> int:
        """Run one statement; returns the rows it changed."""

    def query(self, sql: str, params: Sequence[object] = ()) -> list[tuple[Any, ...]]: ...

    def dicts(self, sql: str, params: Sequence[object] = ()) -> list[dict[str, object]]: ...


@dataclass(frozen=True)
class PublishSql:
    """One dialect's publish steps as pure statement builders; publish.py strings them together."""

    # ref.T -> bkp.<backup> (old columns given), or ref.T dropped when there is no backup to keep
    retire: Callable[[PublishPlan, str | None, Sequence[Column]], list[Statement]]
    # stage.S -> ref.T, where ref.T does not exist (any more)
    promote: Callable[[PublishPlan], list[Statement]]
    # insert-select stage.S into ref.T; the named text columns are widened first where the dialect must
    append: Callable[[PublishPlan, Collection[str]], list[Statement]]
    drop: Callable[[str, str], Statement]
    tables: Callable[[str], Statement]  # one column: the names of the tables in a schema
    merge: Dialect  # how merge's statements are spelled (targets/sql/merge.py)
    add_column: Callable[[str, str, Column], Statement]  # a nullable column added to a table (schema drift)
    # the named text columns widened in ref.T before rows are merged in (where the dialect must)
    widen: Callable[[PublishPlan, Collection[str]], list[Statement]] = lambda plan, names: []
    # widen_types: ref.T's columns of plan.retype given their wider types, its rows converted; the
    # table's columns now and the DDL of its indexes (where a dialect rebuilds the table) are given
    retype: Callable[[PublishPlan, Sequence[Column], Sequence[str]], list[Statement]] = lambda plan, cols, ix: []
    indexes: Callable[[str, str], Statement] | None = None  # a query of a table's index DDL, where retype needs it


@dataclass(frozen=True)
class PublishTx:
    """An open publish transaction: the session it runs on and the steps of its dialect."""

    session: Session
    sql: PublishSql
    widened: frozenset[str] = frozenset()  # text columns staging had to widen (append widens ref too)


class Target(Protocol):
    capabilities: Capabilities

    @property
    def tracker(self) -> Tracker:
        """The tracking store, on the connection publish runs on (targets/tracker.py)."""

    def ensure_ready(self) -> None:
        """Create the schemas and the tracking table when missing (idempotent, concurrent-safe)."""

    def lock_table(self, schema: str, table: str, wait_s: float) -> AbstractContextManager[None]:
        """Hold an exclusive per-table lock across processes; TableBusyError after wait_s."""

    def existing_columns(self, schema: str, table: str) -> list[Column] | None: ...

    def create_stage(self, schema: str, stage: str, columns: list[Column]) -> None: ...

    def write_stage(self, schema: str, stage: str, reader: pa.RecordBatchReader, locate: RowLocator) -> int:
        """Bulk-load the stream; returns the rows the database holds afterwards."""

    def drop_stage(self, schema: str, stage: str) -> None: ...

    def drop_leftover_stages(self, schema: str, load_ids: Iterable[str]) -> list[str]:
        """Drop the staging tables a crash left behind for these loads; returns the names dropped."""

    def append_direct(self, plan: PublishPlan, reader: pa.RecordBatchReader, locate: RowLocator,
                      rec: LoadRecord, settle: Callable[[int], None]) -> None:
        """Only where capabilities.direct_append: bulk-load into ref.T, settle(rows), write `rec`, commit."""

    def publishing(self, plan: PublishPlan) -> AbstractContextManager[PublishTx]:
        """The one publish transaction: commits when the block ends, rolls back when it raises."""

    def close(self) -> None: ...


class RawChunks(Protocol):
    """A reader's rows as validated raw CSV chunks (readers/csv/chunks.py RawCsv), as a target sees them."""

    format: Any  # CopyFormat: columns, delimiter, quote, force_null
    rows: int  # data rows handed out so far
    sha256: str  # of the whole input, once the chunks are exhausted
    source: Any  # the Input read: a compressed file's decompressed content is not the file as delivered
    path: str  # the input's name in messages

    def chunks(self) -> Iterator[Any]:
        """Chunk(data, first_row, rows, first_line), each already validated with the load's types."""

    @property
    def size(self) -> int:
        """The input's size in bytes (-1: unknown), to choose how many streams are worth opening."""


class RawCsvTarget(Target, Protocol):
    """A target whose capabilities.raw_csv is set: the server parses the file's own CSV bytes.

    Both methods raise FastPathMismatch when the server's result could differ from the plain
    path's (a refused row, another count); the caller then loads the file the plain way.
    """

    def write_stage_raw(self, schema: str, stage: str, raw: RawChunks, locate: RowLocator) -> int: ...

    def append_direct_raw(self, plan: PublishPlan, raw: RawChunks, locate: RowLocator, rec: LoadRecord,
                          settle: Callable[[int], None]) -> None: ...


def no_direct_append(self: object, plan: PublishPlan, reader: pa.RecordBatchReader, locate: RowLocator,
                     rec: LoadRecord, settle: Callable[[int], None]) -> None:
    """append_direct of a target whose appends go through staging (direct_append = False)."""
    raise NotImplementedError("this target appends through staging")


def plain(*statements: str) -> list[Statement]:
    """Statements without parameters, in the shape PublishSql returns."""
    return [(s, ()) for s in statements]


def stage_suffixes(load_ids: Iterable[str]) -> set[str]:
    return {"_" + load_id[:12] for load_id in load_ids}


def stages_of(names: Iterable[str], load_ids: Iterable[str]) -> list[str]:
    """The staging tables (or files) among `names` that belong to the given loads."""
    suffixes = stage_suffixes(load_ids)
    return sorted(n for n in names if any(n.endswith(s) for s in suffixes))


def stage_name(table: str, load_id: str) -> str:
    return truncate_bytes(table, MAX_IDENTIFIER_BYTES - 13) + "_" + load_id[:12]


def backup_prefix(table: str) -> str:
    """Room for _<14-digit stamp>_<n>; a shortened name gets a hash so two never share backups."""
    limit = MAX_IDENTIFIER_BYTES - 15 - 4
    if len(table.encode("utf-8")) <= limit:
        return table
    return truncate_bytes(table, limit - 9) + "_" + hashlib.sha1(table.encode()).hexdigest()[:8]


def backup_name(table: str, stamp: str) -> str:
    return backup_prefix(table) + "_" + stamp


def backups_to_drop(table: str, existing: list[str], keep: int) -> list[str]:
    """Backups of `table` beyond the newest `keep`, oldest last in the input order irrelevant."""
    pattern = re.compile(re.escape(backup_prefix(table)) + r"_(\d{14})(?:_(\d{1,3}))?$")
    ours = [(m.group(1), int(m.group(2) or 1), name) for name in existing if (m := pattern.match(name))]
    ours.sort(reverse=True)
    return [name for _, _, name in ours[keep:]]


def free_backup_name(base: str, existing: set[str]) -> str:
    """Two full loads in the same second must not collide: add _2, _3…"""
    name, n = base, 1
    while name in existing:
        n += 1
        name = f"{base}_{n}"
    return name


def batches_of(reader: pa.RecordBatchReader) -> Iterator[pa.RecordBatch]:
    while True:
        try:
            yield reader.read_next_batch()
        except StopIteration:
            return
