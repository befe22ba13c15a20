"""Load one file end to end: plan, read, stage, publish with its tracking row.

`load_file` is the unit of work: a module-level function with picklable inputs and a small
result, so the same call runs inline from the CLI or in a pool worker. It never raises for
a bad file or an unavailable database: the outcome, with its exit code, is in the result and
(whenever the database is reachable) in the tracking table. It knows no input format: a
reader from loader.readers detects and streams, a target stages and publishes.
"""

from __future__ import annotations

import contextlib
import dataclasses
import datetime as dt
import logging
import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import cast

from . import interrupts, mapping, naming, reconcile
from .coltypes import Mode, Status
from .config import Settings
from .errors import (
    EXIT_OK,
    DuplicateFileError,
    LoaderError,
    LoadInterrupted,
    LocalDiskError,
    UsageError,
    ValueTypeError,
    Where,
)
from .mapping import Mapped
from .members import combine, hashed_input, member_options, zip_members
from .opened import InputChangedError, Opened, open_path
from .pins import check_columns
from .plan import LoadPlan, plan_load, widened
from .readers import Detection, Input, Reader, ReadOptions, reader_for
from .rejects import RowPolicy
from .request import LoadRequest
from .stage import SOURCES, LoadJob, drop_stage, resolve_hash, stage_and_publish
from .targets import Target, open_target
from .track import LoadRecord

log = logging.getLogger("loader")
MODES = tuple(Mode)


@dataclass
class LoadResult:
    path: str
    status: str  # loaded | failed | duplicate
    exit_code: int
    table: str = ""
    load_id: str = ""
    rows_read: int = 0
    rows_loaded: int = 0
    rows_rejected: int = 0
    seconds: float = 0.0
    backup: str | None = None
    error: str | None = None
    rejects_file: str | None = None
    error_line: int | None = None
    error_column: str | None = None
    sha256: str = ""
    notes: tuple[str, ...] = ()  # what the load changed on the way (a column widened)
    transient: bool = False  # the same load may succeed later (the error's class says so, not its exit code)
    parts: list[LoadResult] = field(default_factory=list)  # a zip of several files: each member's (members.py)

    @property
    def rows_per_second(self) -> float:
        return self.rows_loaded / self.seconds if self.seconds else 0.0


def detect(path: str, options: ReadOptions | None = None) -> Detection:
    """What `loader detect` prints: the format, the layout and the columns of one file."""
    opts = options or ReadOptions()
    with open_path(path) as opened:
        source = opened.input()
        return _detected(reader_for(source, opts.format), source, opts)


def load_file(req: LoadRequest, settings: Settings, options: ReadOptions | None = None,
              opened: Opened | None = None, shown_as: str | None = None,
              target: Target | None = None) -> LoadResult:
    """`options` pin what detection would otherwise guess (the CLI's --delimiter, --type…); how much
    is sampled and parsed at once always comes from settings.load, so one knob governs memory.

    `opened`: the file already opened and checked by the caller (the service opens a claimed file
    inside its route's root); else `req.path` is opened here, never through a link. Either way
    every byte is read from that one descriptor. `shown_as` names the file in messages (the name
    it was dropped as, not its processing/<claim>/ path); the tracking row keeps `req.path`.

    `target`: an open target the caller keeps across loads (a service worker: one connection per
    process, `ensure_ready` already done); it is left open. Without one, the load opens its own.
    """
    started = time.perf_counter()
    rec: LoadRecord | None = None
    owned = target is None
    own = opened is None
    try:
        table = _table_name(req)
        opened = opened or open_path(req.path)
        source = opened.input(shown_as)
        if (names := zip_members(source, options or ReadOptions())) is not None:
            return _load_members(req, settings, options or ReadOptions(), opened, shown_as, target, names)
        if target is None:
            target = open_target(settings)
            target.ensure_ready()
        target.tracker.lease = req.lease  # reset below: a kept target serves other loads after this one
        shown_path = req.path if req.path == STDIN else os.path.abspath(req.path)
        rec = LoadRecord(file_path=shown_path, schema_name=settings.schemas.ref, table_name=table,
                         mode=Mode(req.mode), route=req.route, size_bytes=source.size)
        # hashed in a thread once it is known the load needs its own pass (see start_hash)
        rec.sha256_pending = None
        SOURCES[rec.load_id] = hashed_input(source, options or ReadOptions())
        target.tracker.record_start(rec)
        log.info("loading %s into %s.%s (%s, load %s)", shown_as or req.path, rec.schema_name, table, req.mode,
                 rec.load_id[:8])
        with target.lock_table(rec.schema_name, table, settings.load.table_wait_s):
            _reconcile_table(target, settings, rec)
            _load_locked(req, settings, target, rec, source, _read_options(options, settings), opened)
        return _result(req, rec, EXIT_OK, started)
    except KeyboardInterrupt:
        _interrupted(req, rec, target, started)
        raise
    except Exception as e:
        if interrupts.requested():  # a driver's error while the user's Ctrl-C unwound through its C code
            _interrupted(req, rec, target, started)
            raise KeyboardInterrupt from e
        return _failed(req, rec, target, _classified(e, opened, shown_as or req.path), started)
    finally:
        if target is not None:
            target.tracker.lease = None
        if rec is not None:
            SOURCES.pop(rec.load_id, None)
        if owned and target is not None:
            with contextlib.suppress(Exception):
                target.close()
        if own and opened is not None:
            if rec is not None:  # the hash thread must be done with the descriptor before it closes
                with contextlib.suppress(Exception):
                    rec.resolve_sha256()
            opened.close()


def _load_members(req: LoadRequest, settings: Settings, options: ReadOptions, opened: Opened,
                  shown_as: str | None, target: Target | None, names: list[str]) -> LoadResult:
    """Each member of a zip as its own load, in name order (members.py)."""
    parts = [load_file(dataclasses.replace(req, path=f"{req.path}/{name}"), settings, member_options(options, name),
                       opened=opened, shown_as=shown_as, target=target) for name in names]
    return cast(LoadResult, combine(req.path, parts))


def _classified(e: Exception, opened: Opened | None, shown: str) -> LoaderError:
    """What the user is told: the data, the input changing, the local disk, or a bug."""
    if isinstance(e, LoaderError):
        return _changed_instead(e, opened, shown)
    if isinstance(e, OSError):  # the local disk (rejects/, the stage folder): full or failing is not the data's fault
        return LocalDiskError(f"local file system: {e}")
    log.exception("unexpected error loading %s", shown)  # a bug must still leave a record and never kill the caller
    return LoaderError(f"internal error: {type(e).__name__}: {e}")


def _interrupted(req: LoadRequest, rec: LoadRecord | None, target: Target | None, started: float) -> None:
    """Ctrl-C: the transaction rolled back as the interrupt unwound; the tracking row says so (never
    'bad data'), then the interrupt goes on to the caller, which stops (exit 130) or drains."""
    _failed(req, rec, target, LoadInterrupted("interrupted (Ctrl-C): rolled back, nothing published"), started)


def _changed_instead(e: LoaderError, opened: Opened | None, shown: str) -> LoaderError:
    """A file still being written fails in odd ways (a cut last row, a count that disagrees): the
    change is the real reason, and it is temporary."""
    if opened is None or e.transient:
        return e
    try:
        changed = opened.changed()
    except OSError:
        return e
    return InputChangedError(changed, Where(file=shown)) if changed else e


def _reconcile_table(target: Target, settings: Settings, rec: LoadRecord) -> None:
    """Holding the table lock: an earlier load of this table whose process died (a killed `loader load`)
    leaves a 'loading' row and its staging; this load cleans them up rather than waiting for `loader run`."""
    try:
        reconcile.fail_dead_loads(target, settings.schemas.stage, (rec.schema_name, rec.table_name))
    except LoaderError as e:
        log.warning("could not reconcile earlier loads of %s.%s: %s", rec.schema_name, rec.table_name, e)


class _NoFile:
    """A database source has no descriptor that could change under it: its window is fixed by the query."""

    def changed(self) -> str:
        return ""


def load_source(req: LoadRequest, settings: Settings, source: Input, options: ReadOptions,
                prepare: Callable[[Target, LoadRecord], None]) -> LoadResult:
    """A database source (loader/sources.py): no file to find or hash. `prepare` runs under the table
    lock before the read, where the source's last committed watermark is read."""
    started = time.perf_counter()
    rec: LoadRecord | None = None
    target: Target | None = None
    try:
        table = naming.check_identifier(req.table or "", "table name")
        target = open_target(settings)
        target.ensure_ready()
        rec = LoadRecord(file_path=source.path, schema_name=settings.schemas.ref, table_name=table,
                         mode=Mode(req.mode), route=req.route, size_bytes=0)
        target.tracker.record_start(rec)
        log.info("pulling %s into %s.%s (%s, load %s)", source.path, rec.schema_name, table, req.mode,
                 rec.load_id[:8])
        with target.lock_table(rec.schema_name, table, settings.load.table_wait_s):
            prepare(target, rec)
            _load_locked(dataclasses.replace(req, force=True), settings, target, rec, source, options,
                         cast(Opened, _NoFile()))
        return _result(req, rec, EXIT_OK, started)
    except LoaderError as e:
        return _failed(req, rec, target, e, started)
    except Exception as e:  # a bug must still leave a record and never kill the caller
        log.exception("unexpected error pulling %s", req.path)
        return _failed(req, rec, target, LoaderError(f"internal error: {type(e).__name__}: {e}"), started)
    finally:
        if target is not None:
            with contextlib.suppress(Exception):
                target.close()


STDIN = "-"  # `loader load -`: the tracking row names standard input, not its spool file
def _detected(reader: Reader, source: Input, options: ReadOptions) -> Detection:
    found = reader.detect(source, options)
    if options.strict_pins:
        check_columns(options.column_types, found.columns)
    return found


def _read_options(options: ReadOptions | None, settings: Settings) -> ReadOptions:
    """How much to sample and parse at once comes from the settings, what to pin from the caller."""
    return dataclasses.replace(options or ReadOptions(), sample_bytes=settings.load.sample_bytes,
                               sample_rows=settings.load.sample_rows, block_size=settings.load.block_size,
                               max_columns=settings.load.max_columns)


def _table_name(req: LoadRequest) -> str:
    if req.mode not in MODES:
        raise UsageError(f"mode {req.mode!r} is not one of {', '.join(MODES)}")
    if req.table:
        return naming.check_identifier(req.table, "table name")
    return naming.table_from_filename(naming.file_stem(req.path))


def _load_locked(req: LoadRequest, settings: Settings, target: Target, rec: LoadRecord, source: Input,
                 options: ReadOptions, opened: Opened) -> None:
    if req.mode == Mode.APPEND and not req.force:
        _refuse_duplicate(req, target, rec, source.path)
    reader = reader_for(source, options.format)
    detection, mapped = _mapped(req, source, _detected(reader, source, options))
    job = LoadJob(req, settings, target, rec, source, options, reader, detection, opened)
    plan = _plan(job, mapped)
    rec.set_format(plan.read_as(job.detection).as_dict())
    rec.notes = plan.notes
    policy = RowPolicy.of(settings.load)
    for _ in range(3 * len(plan.columns) + 1):  # each retry widens a column; text ends it
        try:
            if not plan.direct:  # inside the try: a stage that fails half-created is dropped too
                target.create_stage(plan.stage_schema, plan.stage, plan.stage_columns)
            stage_and_publish(job, plan, policy)
            return
        except ValueTypeError as e:
            wider = widened(plan, e) if policy.type_mismatch == "widen" or plan.widen_types else None
            if wider is None:
                e.reason += _widen_hint(plan, policy, e.where.column)
                raise
            log.info("%s: %s", e.where.file, wider.notes[-1])
            plan = wider
            rec.set_format(plan.read_as(job.detection).as_dict())
            rec.notes = plan.notes
        finally:
            if not plan.direct:
                drop_stage(target, plan.stage_schema, plan.stage)


def _widen_hint(plan: LoadPlan, policy: RowPolicy, column: str | None) -> str:
    """What would let a value that does not fit its column load: said where the refusal is."""
    table = dict(plan.table_types)
    if column is None or column in plan.keys:
        return ""
    if column in table:
        return "" if plan.widen_types else (f"; {plan.schema}.{plan.table}.{column} is {table[column]}: "
                                            "widen_types = true (--widen-types) widens it")
    if policy.type_mismatch != "widen":
        return f"; pin the column's type (--type {column}=text) or let it widen (load.type_mismatch = \"widen\")"
    return ""


def _refuse_duplicate(req: LoadRequest, target: Target, rec: LoadRecord, shown: str) -> None:
    resolve_hash(rec)
    previous = target.tracker.find_duplicate(rec.sha256, rec.schema_name, rec.table_name)
    if previous:
        raise DuplicateFileError(f"{shown}: the same content (sha256 {rec.sha256[:12]}…) is already in "
                                 f"{rec.schema_name}.{rec.table_name} (load {previous}); use --force to "
                                 "append it again")


def _mapped(req: LoadRequest, source: Input, detection: Detection) -> tuple[Detection, Mapped | None]:
    """The route's column mapping over what the reader found: the plan sees the table's columns."""
    if not req.mapping:
        return detection, None
    name = os.path.basename(source.path)
    mapped = mapping.apply(detection.columns, req.mapping, name, mapping.file_fields(name, req.mapping.name_regex))
    for note in mapped.notes:
        log.info("%s: %s", name, note)
    return dataclasses.replace(detection, columns=mapped.columns, notes=[*detection.notes, *mapped.notes]), mapped


def _plan(job: LoadJob, mapped: Mapped | None = None) -> LoadPlan:
    rec = job.rec
    mode = Mode(job.req.mode)
    adding = mode in (Mode.APPEND, Mode.MERGE)
    existing = job.target.existing_columns(rec.schema_name, rec.table_name) if adding else None
    load = job.settings.load
    keys = (job.req.keys or tuple(load.key)) if mode == Mode.MERGE else ()
    if mode == Mode.MERGE and not keys:
        raise UsageError("merge needs the key columns: --key id (or the route's key = [\"id\"], load.key)")
    plan = plan_load(mode, rec.table_name, job.settings, job.detection, existing, load_id=rec.load_id,
                     direct_append=job.target.capabilities.direct_append, now=dt.datetime.now(dt.UTC), mapped=mapped,
                     keys=keys)
    if mode != Mode.MERGE:
        return plan
    return dataclasses.replace(plan, duplicate_keys=load.duplicate_keys, delete_missing=load.delete_missing)


def _result(req: LoadRequest, rec: LoadRecord, code: int, started: float) -> LoadResult:
    return LoadResult(path=req.path, status=rec.status, exit_code=code, table=f"{rec.schema_name}.{rec.table_name}",
                      load_id=rec.load_id, rows_read=rec.rows_read, rows_loaded=rec.rows_loaded,
                      rows_rejected=rec.rows_rejected, seconds=time.perf_counter() - started,
                      backup=rec.backup_table, error=rec.error, rejects_file=rec.rejects_file,
                      error_line=rec.error_line, error_column=rec.error_column, sha256=rec.sha256,
                      notes=rec.notes)


def _failed(req: LoadRequest, rec: LoadRecord | None, target: Target | None, e: LoaderError,
            started: float) -> LoadResult:
    status = Status.DUPLICATE if isinstance(e, DuplicateFileError) else Status.FAILED
    if rec is None:
        return LoadResult(path=req.path, status=status, exit_code=e.exit_code, seconds=time.perf_counter() - started,
                          error=str(e), transient=e.transient)
    # nothing was published: every row read counts as rejected with the file
    rec.rows_loaded, rec.rows_rejected = 0, rec.rows_read
    with contextlib.suppress(Exception):
        resolve_hash(rec)
    rec.error, rec.error_line, rec.error_column = str(e), e.where.line, e.where.column
    rec.finish(status)
    if target is not None:
        try:
            target.tracker.record_end(rec)
        except LoaderError as track_error:
            log.error("could not record the outcome of %s: %s", req.path, track_error)
    result = _result(req, rec, e.exit_code, started)
    result.transient = e.transient
    return result
