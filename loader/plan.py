"""Plan one load: the mode, straight into the table or through staging, the names, the columns.

Pure: the mode and table, the settings, what the reader detected and the existing table's
columns (or None) go in; a LoadPlan comes out. No database and no file, so every decision a
load makes before it moves a row is tested on literals (tests/test_plan.py). A value that does
not fit its column revises the plan (`widened`), never the detection: what the reader saw stays
as it saw it, and the plan says how the load reads it.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, replace

from . import lineage
from .coltypes import Column, ColumnType, Mode
from .config import Settings
from .errors import BadInputError, ValueTypeError, shorten
from .readers import Detection, widen
from .targets.base import BACKUP_STAMP, PublishPlan, backup_name, stage_name
from .targets.sql.merge import ROW


@dataclass(frozen=True)
class LoadPlan:
    mode: Mode
    schema: str  # the published table's schema
    table: str
    columns: tuple[Column, ...]  # conformed to the existing table on append, widened on retry
    direct: bool  # append bulk-loads straight into schema.table inside the publish transaction
    stage_schema: str
    stage: str  # the private staging table (unused when direct)
    bkp_schema: str
    backup: str  # the name a full load gives the table it replaces
    backups_keep: int
    notes: tuple[str, ...] = ()  # what planning changed (a widened column): added to the detection's notes
    keys: tuple[str, ...] = ()  # merge: the key columns rows are upserted on
    duplicate_keys: str = "last"  # merge: which row of a key repeated in the file wins (last | first | fail)
    delete_missing: bool = False  # merge: rows whose key the file lacks are deleted
    drift: str = "fail"  # room for a drift policy: today a column the table lacks fails an append
    lineage: tuple[Column, ...] = ()  # columns the loader fills (lineage.py), after the file's own

    @property
    def stage_columns(self) -> list[Column]:
        """Merge stages each row's number as well: "the last row of a key wins" needs the file's order."""
        row = [Column(ROW, ColumnType("bigint"))] if self.mode == Mode.MERGE else []
        return [*self.columns, *self.lineage, *row]

    @property
    def added(self) -> tuple[Column, ...]:
        """What the loader appends to every batch: lineage, and merge's row number."""
        return tuple(self.stage_columns[len(self.columns):])

    def publication(self) -> PublishPlan:
        """What the target's publish transaction needs."""
        return PublishPlan(mode=self.mode, ref_schema=self.schema, bkp_schema=self.bkp_schema,
                           stage_schema=self.stage_schema, table=self.table, stage=self.stage,
                           columns=(*self.columns, *self.lineage), backups_keep=self.backups_keep,
                           backup_name=self.backup, keys=self.keys, duplicate_keys=self.duplicate_keys,
                           delete_missing=self.delete_missing, lineage=tuple(c.name for c in self.lineage))

    def read_as(self, detection: Detection) -> Detection:
        """The detection the reader streams with: the plan's columns, every note."""
        return replace(detection, columns=list(self.columns), notes=[*detection.notes, *self.notes])


def plan_load(mode: Mode, table: str, settings: Settings, detection: Detection, existing: list[Column] | None,
              *, load_id: str, direct_append: bool, now: dt.datetime) -> LoadPlan:
    """`existing`: the table's columns when it exists (asked for appends only); BadInputError when
    the input has a column the table lacks, since an append never changes the table's shape."""
    schemas = settings.schemas
    adding = Mode(mode) in (Mode.APPEND, Mode.MERGE) and existing is not None
    extra = lineage.columns(settings.load.lineage)
    lineage.check_clash(settings.load.lineage, detection.columns, f"{schemas.ref}.{table}")
    columns = conform(detection.columns, existing, f"{schemas.ref}.{table}") if adding else detection.columns
    if adding and existing is not None:
        _has_lineage(extra, existing, f"{schemas.ref}.{table}")
    return LoadPlan(mode=Mode(mode), schema=schemas.ref, table=table, columns=tuple(columns), lineage=extra,
                    direct=adding and Mode(mode) == Mode.APPEND and direct_append, stage_schema=schemas.stage,
                    stage=stage_name(table, load_id), bkp_schema=schemas.bkp,
                    backup=backup_name(table, now.strftime(BACKUP_STAMP)), backups_keep=settings.load.backups_keep)


def _has_lineage(extra: tuple[Column, ...], existing: list[Column], qualified: str) -> None:
    names = {c.name for c in existing}
    missing = [c.name for c in extra if c.name not in names]
    if missing:
        raise BadInputError(f"{qualified} has no lineage column(s) {missing} (it was made without them); a full "
                            "load with lineage makes them; nothing added")


def conform(columns: list[Column], existing: list[Column] | None, qualified: str) -> list[Column]:
    """Appending to an existing table: the table's column types win over detection.

    A locale format (`parse`) survives only when the table keeps the detected kind: a decimal
    comma read into a text column is the text as written.
    """
    if existing is None:
        return columns
    by_name = {c.name: c for c in existing}
    extra = [c.name for c in columns if c.name not in by_name]
    if extra:
        raise BadInputError(f"columns {extra} are not in {qualified} "
                            f"(it has {[c.name for c in existing]}); nothing appended")
    return [Column(c.name, by_name[c.name].type, c.source_name,
                   parse=c.parse if by_name[c.name].type.kind == c.type.kind else None) for c in columns]


def widened(plan: LoadPlan, error: ValueTypeError) -> LoadPlan | None:
    """The plan with the column a value did not fit widened; None when there is nothing wider to try."""
    where = error.where
    index = next((i for i, c in enumerate(plan.columns) if c.name == where.column), None)
    if index is None or where.value is None or plan.columns[index].type.kind == "text":
        return None
    col = plan.columns[index]
    wider = widen(col.type, where.value)
    columns = (*plan.columns[:index], Column(col.name, wider, col.source_name), *plan.columns[index + 1:])
    note = f"column {col.name!r} widened from {col.type} to {wider}: line {where.line} has {shorten(where.value)!r}"
    return replace(plan, columns=columns, notes=(*plan.notes, note))

