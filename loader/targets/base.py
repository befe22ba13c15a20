"""The target interface: the only place that knows which database it talks to is a target.

A target is small on purpose: make the schemas, lock a table, fill a staging table from an
Arrow stream through the database's bulk path, and publish in one transaction together
with the tracking row. Everything outside loader/targets/ talks to this Protocol.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import re
from collections.abc import Callable, Iterable, Iterator
from contextlib import AbstractContextManager
from dataclasses import dataclass
from typing import Any, Protocol

import pyarrow as pa

from ..coltypes import Column
from ..naming import MAX_IDENTIFIER_BYTES, truncate_bytes
from ..track import LoadRecord

BACKUP_STAMP = "%Y%m%d%H%M%S"


@dataclass(frozen=True)
class PublishPlan:
    """What one publish does; built by the loader, carried out in one transaction by a target."""

    mode: str  # fullload | append
    ref_schema: str
    bkp_schema: str
    stage_schema: str
    table: str
    stage: str
    columns: tuple[Column, ...]
    backups_keep: int
    backup_name: str  # used only when a fullload replaces an existing table


# A data row number (1-based, as the database counts it) -> a located error for the user.
RowLocator = Callable[[int, str | None, str], Exception]


class Target(Protocol):
    kind: str
    # can append by bulk-loading straight into ref.T inside the publish transaction
    direct_append: bool

    def ensure_ready(self) -> None:
        """Create the schemas and the tracking table when missing (idempotent, concurrent-safe)."""

    def lock_table(self, schema: str, table: str, wait_s: float) -> AbstractContextManager[None]:
        """Hold an exclusive per-table lock across processes; TableBusyError after wait_s."""

    def record_start(self, rec: LoadRecord) -> None: ...

    def record_end(self, rec: LoadRecord) -> None: ...

    def find_duplicate(self, sha256: str, schema: str, table: str) -> str | None:
        """The load id of the same content already in the table's current version, if any."""

    def existing_columns(self, schema: str, table: str) -> list[Column] | None: ...

    def create_stage(self, schema: str, stage: str, columns: list[Column]) -> None: ...

    def write_stage(self, schema: str, stage: str, reader: pa.RecordBatchReader, locate: RowLocator) -> int:
        """Bulk-load the stream; returns the rows the database holds afterwards."""

    def publish(self, plan: PublishPlan, rec: LoadRecord) -> str | None:
        """Swap or append, prune backups and write `rec` in ONE transaction; returns the backup made."""

    def drop_stage(self, schema: str, stage: str) -> None: ...

    def append_direct(self, plan: PublishPlan, reader: pa.RecordBatchReader, locate: RowLocator,
                      rec: LoadRecord, settle: Callable[[int], None]) -> None:
        """Only where direct_append: bulk-load into ref.T, settle(rows), write `rec`, commit; all or nothing."""

    def recent_loads(self, limit: int) -> list[dict[str, object]]: ...

    # -- what the service needs to recover from a crash and to report ---------------------------
    def loads_of_file(self, file_path: str) -> list[dict[str, object]]:
        """Every tracking row of one file path (a claim folder makes the path unique per claim)."""

    def unfinished_loads(self) -> list[dict[str, object]]:
        """Rows still 'loading': live loads, or loads whose process died."""

    def mark_interrupted(self, load_id: str, reason: str) -> bool:
        """'loading' -> 'failed' with the reason (the process that wrote it is gone); False if not loading."""

    def drop_leftover_stages(self, schema: str, load_ids: Iterable[str]) -> list[str]:
        """Drop the staging tables a crash left behind for these loads; returns the names dropped."""

    def summary(self, since: dt.datetime) -> list[dict[str, object]]:
        """Per status: files and rows in total and since `since` (loader status)."""

    def close(self) -> None: ...

    @property
    def tracker(self) -> Any:
        """The tracking store (targets/tracker.py); today the target itself."""


def summary_sql(track: str, placeholder: str) -> str:
    """Counts per status, in total and in a recent window (one parameter: the window start)."""
    p = placeholder
    return (f"SELECT status, count(*), coalesce(sum(rows_loaded), 0), "
            f"sum(CASE WHEN finished_at >= {p} THEN 1 ELSE 0 END), "
            f"coalesce(sum(CASE WHEN finished_at >= {p} THEN rows_loaded ELSE 0 END), 0), "
            f"coalesce(sum(CASE WHEN finished_at >= {p} THEN seconds ELSE 0 END), 0) "
            f"FROM {track} GROUP BY status ORDER BY status")


SUMMARY_KEYS = ("status", "files", "rows", "files_recent", "rows_recent", "seconds_recent")


def no_direct_append(self: object, plan: PublishPlan, reader: pa.RecordBatchReader, locate: RowLocator,
                     rec: LoadRecord, settle: Callable[[int], None]) -> None:
    """append_direct of a target whose appends go through staging (direct_append = False)."""
    raise NotImplementedError("this target appends through staging")


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
