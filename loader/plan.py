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

from . import lineage, rescue
from .coltypes import TEXT, Column, ColumnType, Mode, joined
from .config import SCHEMA_DRIFT, Settings
from .errors import BadInputError, ValueTypeError, shorten
from .mapping import Mapped
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
    drift: str = "fail"  # a column the table lacks: fail, add_columns (added to the table) or ignore (dropped)
    new_columns: tuple[Column, ...] = ()  # add_columns: added to the table in the publish transaction
    dropped: tuple[str, ...] = ()  # ignore: read and staged, never published
    lineage: tuple[Column, ...] = ()  # columns the loader fills (lineage.py), after the file's own
    fixed: tuple[Column, ...] = ()  # a route's value columns (mapping.py): one value per file, before lineage
    fixed_values: tuple[str, ...] = ()  # their text, converted to the column's type as batches pass
    table_types: tuple[tuple[str, ColumnType], ...] = ()  # append/merge: the existing table's column types
    widen_types: bool = False  # a table column the file needs wider is widened in the publish transaction
    rescue: bool = False  # schema_drift = rescue: values that do not fit go to _rescued (rescue.py)
    rescued_from: tuple[str, ...] = ()  # rescue: the file's columns the table lacks, kept in _rescued

    @property
    def retyped(self) -> tuple[tuple[Column, ColumnType], ...]:
        """The table's columns this load widens (widen_types), each with the type it has now."""
        have = dict(self.table_types)
        return tuple((c, have[c.name]) for c in (*self.columns, *self.fixed)
                     if c.name in have and c.name not in self.dropped and c.type != have[c.name])

    @property
    def stage_columns(self) -> list[Column]:
        """Merge stages each row's number as well: "the last row of a key wins" needs the file's order."""
        row = [Column(ROW, ColumnType("bigint"))] if self.mode == Mode.MERGE else []
        return [*self.columns, *self.rescued, *self.fixed, *self.lineage, *row]

    @property
    def rescued(self) -> tuple[Column, ...]:
        return (rescue.COLUMN,) if self.rescue else ()

    @property
    def added(self) -> tuple[Column, ...]:
        """What the loader appends to every batch after the reader's (and rescue's) columns: value
        columns, lineage, and merge's row number."""
        return tuple(self.stage_columns[len(self.columns) + len(self.rescued):])

    def publication(self) -> PublishPlan:
        """What the target's publish transaction needs."""
        return PublishPlan(mode=self.mode, ref_schema=self.schema, bkp_schema=self.bkp_schema,
                           stage_schema=self.stage_schema, table=self.table, stage=self.stage,
                           columns=(*(c for c in (*self.columns, *self.fixed) if c.name not in self.dropped),
                                    *self.rescued, *self.lineage),
                           new_columns=self.new_columns, backups_keep=self.backups_keep,
                           backup_name=self.backup, keys=self.keys, duplicate_keys=self.duplicate_keys,
                           delete_missing=self.delete_missing, lineage=tuple(c.name for c in self.lineage),
                           retype=self.retyped)

    def read_as(self, detection: Detection) -> Detection:
        """The detection the load follows: the plan's columns, every note."""
        return replace(detection, columns=list(self.columns), notes=[*detection.notes, *self.notes])

    def reading(self, detection: Detection) -> Detection:
        """What the reader streams with: under rescue every typed column as text (rescue.py casts it)."""
        read = self.read_as(detection)
        return replace(read, columns=rescue.reading(read.columns)) if self.rescue else read


def plan_load(mode: Mode, table: str, settings: Settings, detection: Detection, existing: list[Column] | None,
              *, load_id: str, direct_append: bool, now: dt.datetime, mapped: Mapped | None = None,
              keys: tuple[str, ...] = ()) -> LoadPlan:
    """`existing`: the table's columns when it exists (asked for appends and merges); a column the
    table lacks follows the drift policy, a column the file needs wider the widen_types setting.
    `mapped`: what a route's column mapping adds (value columns) and leaves out (mapping.py)."""
    schemas = settings.schemas
    adding = Mode(mode) in (Mode.APPEND, Mode.MERGE) and existing is not None
    extra = lineage.columns(settings.load.lineage)
    fixed = [c for c, _ in mapped.fixed] if mapped else []
    lineage.check_clash(settings.load.lineage, [*detection.columns, *fixed], f"{schemas.ref}.{table}")
    rescuing = settings.load.schema_drift == "rescue"
    if rescuing:
        rescue.check_clash([*detection.columns, *fixed], f"{schemas.ref}.{table}")
    columns, drift = [*detection.columns, *fixed], Drift()
    unmapped = mapped.dropped if mapped else ()  # read, never published: the table's shape ignores them
    if adding and existing is not None:
        drift = drifted([c for c in columns if c.name not in unmapped], existing, f"{schemas.ref}.{table}",
                        settings.load.schema_drift, settings.load.missing_columns)
        widen = settings.load.widen_types
        columns = [c if c.name in drift.extra or c.name in unmapped
                   else fit(c, existing, widen and c.name not in keys) for c in columns]
        _has_lineage(extra, existing, f"{schemas.ref}.{table}")
    new = tuple(c for c in columns if c.name in drift.extra) if settings.load.schema_drift == "add_columns" else ()
    if rescuing and existing is not None and adding and rescue.RESCUED not in {c.name for c in existing}:
        new = (rescue.COLUMN,)  # the table gets its _rescued column in the publish transaction
    dropped = (drift.extra if settings.load.schema_drift in ("ignore", "rescue") else ()) + unmapped
    if rescuing:  # staged as the text they were, for _rescued; never published
        columns = [replace(c, type=TEXT, parse=None) if c.name in drift.extra else c for c in columns]
    columns, fixed = columns[:len(detection.columns)], columns[len(detection.columns):]
    table_types = tuple((c.name, c.type) for c in existing) if adding and existing is not None else ()
    plan = LoadPlan(keys=keys, table_types=table_types, widen_types=settings.load.widen_types,
                    mode=Mode(mode), schema=schemas.ref, table=table, columns=tuple(columns), lineage=extra,
                    fixed=tuple(fixed), fixed_values=tuple(v for _, v in mapped.fixed) if mapped else (),
                    drift=settings.load.schema_drift, new_columns=new, dropped=dropped, notes=drift.notes,
                    direct=adding and Mode(mode) == Mode.APPEND and direct_append and not drift.extra
                    and not dropped and not rescuing, rescue=rescuing,
                    rescued_from=drift.extra if rescuing else (),
                    stage_schema=schemas.stage,
                    stage=stage_name(table, load_id), bkp_schema=schemas.bkp,
                    backup=backup_name(table, now.strftime(BACKUP_STAMP)), backups_keep=settings.load.backups_keep)
    return _noting_widened(plan) if plan.retyped else plan


def _noting_widened(plan: LoadPlan) -> LoadPlan:
    """A retyped table is altered before rows go in: never the direct append, always noted."""
    notes = tuple(f"column {c.name!r} of {plan.schema}.{plan.table} widened from {old} to {c.type} "
                  "(widen_types)" for c, old in plan.retyped)
    return replace(plan, direct=False, notes=(*plan.notes, *notes))


def fit(col: Column, existing: list[Column], widen: bool) -> Column:
    """A file's column read into the table's: the table's type wins, or under widen_types the type
    that holds both. A locale format (`parse`) survives only while the kind stays the detected one:
    a decimal comma read into a text column is the text as written."""
    have = next(c for c in existing if c.name == col.name)
    kind = joined(have.type, col.type) if widen else have.type
    return replace(col, type=kind, parse=col.parse if kind.kind == col.type.kind else None)


DRIFT = SCHEMA_DRIFT  # what a column the table lacks does to an append or merge
MISSING = ("null", "fail")  # what a table column the file lacks does


@dataclass(frozen=True)
class Drift:
    extra: tuple[str, ...] = ()  # the file's columns the table lacks (allowed by the policy)
    notes: tuple[str, ...] = ()


def drifted(columns: list[Column], existing: list[Column], qualified: str, policy: str, missing: str) -> Drift:
    """The file against the table it goes into: new columns by the drift policy, absent ones by
    `missing`. Every allowed change is noted (result line and tracking row); a refused one names them."""
    have = {c.name for c in existing}
    extra = tuple(c.name for c in columns if c.name not in have)
    absent = [c.name for c in existing if c.name not in {c.name for c in columns} and not c.name.startswith("_")]
    notes = []
    if extra and policy == "fail":
        raise BadInputError(f"columns {list(extra)} are not in {qualified} (it has {[c.name for c in existing]}); "
                            "nothing added (schema_drift = \"add_columns\" adds them, \"ignore\" drops them)")
    if extra:
        done = {"add_columns": "added to ", "rescue": "kept in _rescued: not in "}.get(policy, "not loaded: not in ")
        notes.append(f"columns {list(extra)} {done}{qualified} (schema_drift = {policy})")
    if absent and missing == "fail":
        raise BadInputError(f"{qualified} columns {absent} are not in the file; nothing added "
                            "(missing_columns = \"null\" loads them as NULL)")
    if absent:
        notes.append(f"columns {absent} of {qualified} are not in the file: NULL in its rows")
    return Drift(extra if policy != "fail" else (), tuple(notes))


def _has_lineage(extra: tuple[Column, ...], existing: list[Column], qualified: str) -> None:
    names = {c.name for c in existing}
    missing = [c.name for c in extra if c.name not in names]
    if missing:
        raise BadInputError(f"{qualified} has no lineage column(s) {missing} (it was made without them); a full "
                            "load with lineage makes them; nothing added")


def conform(columns: list[Column], existing: list[Column] | None, qualified: str) -> list[Column]:
    """Appending to an existing table: the table's column types win over detection (see fit)."""
    if existing is None:
        return columns
    by_name = {c.name: c for c in existing}
    extra = [c.name for c in columns if c.name not in by_name]
    if extra:
        raise BadInputError(f"columns {extra} are not in {qualified} "
                            f"(it has {[c.name for c in existing]}); nothing appended")
    return [fit(c, existing, False) for c in columns]


def widened(plan: LoadPlan, error: ValueTypeError) -> LoadPlan | None:
    """The plan with the column a value did not fit widened; None when there is nothing wider to try.

    A column of an existing table widens only under widen_types (the publish then alters the table),
    and never a merge key: staging wider than the table would only move the failure to the insert,
    or worse, let a lenient database round or coerce the value."""
    where = error.where
    index = next((i for i, c in enumerate(plan.columns) if c.name == where.column), None)
    if index is None or where.value is None or plan.columns[index].type.kind == "text":
        return None
    col = plan.columns[index]
    if col.name in dict(plan.table_types) and (not plan.widen_types or col.name in plan.keys):
        return None
    wider = widen(col.type, where.value)
    columns = (*plan.columns[:index], replace(col, type=wider, parse=None), *plan.columns[index + 1:])
    note = f"column {col.name!r} widened from {col.type} to {wider}: line {where.line} has {shorten(where.value)!r}"
    retyping = col.name in dict(plan.table_types)  # the publish alters the table first: never direct
    return replace(plan, columns=columns, notes=(*plan.notes, note), direct=plan.direct and not retyping)

