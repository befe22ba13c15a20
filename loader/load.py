"""Load one file end to end: detect, stream into staging, publish with its tracking row.

`load_file` is the unit of work: a module-level function with picklable inputs and a small
result, so the same call runs inline from the CLI or in a pool worker. It never raises for
a bad file or an unavailable database: the outcome, with its exit code, is in the result and
(whenever the database is reachable) in the tracking table.
"""

from __future__ import annotations

import concurrent.futures
import contextlib
import datetime as dt
import logging
import os
import time
from dataclasses import dataclass

from . import naming
from .coltypes import Column, FileFormat, Mode, Status
from .config import Settings
from .errors import (
    EXIT_OK,
    BadInputError,
    DuplicateFileError,
    LoaderError,
    NoInputError,
    UsageError,
    ValueTypeError,
    shorten,
)
from .readers.csv.detect import Overrides, sniff_file
from .readers.csv.infer import widen
from .readers.csv.stream import CsvStream, locate_data_row, locate_rejects, sha256_of
from .rejects import RowPolicy, parse_max_rejects, write_rejects
from .targets import PublishPlan, Target, open_target, publish
from .targets.base import BACKUP_STAMP, RowLocator, backup_name, stage_name
from .track import LoadRecord

log = logging.getLogger("loader")
MODES = tuple(Mode)


@dataclass(frozen=True)
class LoadRequest:
    path: str
    table: str | None = None  # default: from the file name
    mode: str = Mode.FULLLOAD
    force: bool = False  # append even if this content was appended before
    route: str = "cli"
    rejects_dir: str | None = None  # where <name>.rejects.csv goes (a route's rejects/)


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
    transient: bool = False  # the same load may succeed later (the error's class says so, not its exit code)

    @property
    def rows_per_second(self) -> float:
        return self.rows_loaded / self.seconds if self.seconds else 0.0


def load_file(req: LoadRequest, settings: Settings, overrides: Overrides | None = None) -> LoadResult:
    started = time.perf_counter()
    rec: LoadRecord | None = None
    target: Target | None = None
    try:
        table = _table_name(req)
        target = open_target(settings)
        target.ensure_ready()
        rec = LoadRecord(file_path=os.path.abspath(req.path), schema_name=settings.schemas.ref, table_name=table,
                         mode=Mode(req.mode), route=req.route, size_bytes=os.path.getsize(req.path))
        # hashed in a thread (hashlib releases the GIL) while the file is detected and staged
        rec.sha256_pending = _HASHER.submit(sha256_of, req.path)
        target.tracker.record_start(rec)
        with target.lock_table(rec.schema_name, table, settings.load.table_wait_s):
            _load_locked(req, settings, overrides, target, rec)
        return _result(req, rec, EXIT_OK, started)
    except LoaderError as e:
        return _failed(req, rec, target, e, started)
    except Exception as e:  # a bug must still leave a record and never kill the caller
        log.exception("unexpected error loading %s", req.path)
        return _failed(req, rec, target, LoaderError(f"internal error: {type(e).__name__}: {e}"), started)
    finally:
        if target is not None:
            with contextlib.suppress(Exception):
                target.close()


_HASHER = concurrent.futures.ThreadPoolExecutor(max_workers=2, thread_name_prefix="sha256")


def _table_name(req: LoadRequest) -> str:
    if req.mode not in MODES:
        raise UsageError(f"mode {req.mode!r} is not one of {', '.join(MODES)}")
    if not os.path.isfile(req.path):
        raise NoInputError(f"{req.path}: no such file")
    if req.table:
        return naming.check_identifier(req.table, "table name")
    return naming.table_from_filename(os.path.splitext(os.path.basename(req.path))[0])


def _load_locked(req: LoadRequest, settings: Settings, overrides: Overrides | None,
                 target: Target, rec: LoadRecord) -> None:
    schemas = settings.schemas
    if req.mode == Mode.APPEND and not req.force:
        rec.resolve_sha256()
        previous = target.tracker.find_duplicate(rec.sha256, rec.schema_name, rec.table_name)
        if previous:
            raise DuplicateFileError(f"{req.path}: the same content (sha256 {rec.sha256[:12]}…) is already in "
                                     f"{rec.schema_name}.{rec.table_name} (load {previous}); use --force to "
                                     "append it again")
    fmt = sniff_file(req.path, overrides, settings.load.sample_bytes, settings.load.sample_rows)
    existing = target.existing_columns(rec.schema_name, rec.table_name) if req.mode == Mode.APPEND else None
    _conform(fmt, existing, req.path, rec)
    # an append into an existing table bulk-loads straight into it where the target can do so atomically
    direct = existing is not None and target.capabilities.direct_append
    rec.set_format(fmt.as_dict())
    stage = stage_name(rec.table_name, rec.load_id)
    policy = RowPolicy(settings.load.bad_rows, parse_max_rejects(settings.load.max_rejects),
                       settings.load.type_mismatch)
    for _ in range(3 * len(fmt.columns) + 1):  # each retry widens a column; text ends it
        if not direct:
            target.create_stage(schemas.stage, stage, fmt.columns)
        try:
            _stage_and_publish(req, settings, target, rec, fmt, stage, policy, direct)
            return
        except ValueTypeError as e:
            if policy.type_mismatch != "widen" or not _widen(fmt, e):
                raise
            rec.set_format(fmt.as_dict())
        finally:
            if not direct:
                _drop_stage(target, schemas.stage, stage)


def _drop_stage(target: Target, schema: str, stage: str) -> None:
    try:
        target.drop_stage(schema, stage)
    except LoaderError as e:
        log.warning("could not drop staging table %s.%s: %s (recovery drops it)", schema, stage, e)


def _widen(fmt: FileFormat, e: ValueTypeError) -> bool:
    """Widen the column a value did not fit; False when there is nothing wider to try."""
    index = next((i for i, c in enumerate(fmt.columns) if c.name == e.where.column), None)
    if index is None or e.where.value is None or fmt.columns[index].type.kind == "text":
        return False
    col = fmt.columns[index]
    wider = widen(col.type, e.where.value)
    fmt.columns[index] = Column(col.name, wider, col.source_name)
    fmt.notes.append(f"column {col.name!r} widened from {col.type} to {wider}: line {e.where.line} "
                     f"has {shorten(e.where.value)!r}")
    log.info("%s: %s", e.where.file, fmt.notes[-1])
    return True


def _stage_and_publish(req: LoadRequest, settings: Settings, target: Target, rec: LoadRecord,
                       fmt: FileFormat, stage: str, policy: RowPolicy, direct: bool) -> None:
    stream = CsvStream(req.path, fmt, settings.load.block_size, policy)
    plan = _plan(req, settings, rec, fmt, stage)
    locate = _locator(req, fmt)
    t0 = time.perf_counter()
    try:
        if direct:  # COPY straight into ref.T inside the publish transaction: no staging copy of every row
            target.append_direct(plan, stream.reader(), locate, rec,
                                 lambda copied: _settle(req, settings, stream, rec, fmt, copied, t0))
            return
        loaded = target.write_stage(settings.schemas.stage, stage, stream.reader(), locate)
    except Exception:
        rec.rows_read = stream.rows
        _keep_rejects(req, settings, stream, rec)
        if stream.error is not None:  # the reader's own error is the precise one
            raise stream.error from None
        raise
    _settle(req, settings, stream, rec, fmt, loaded, t0)
    publish(target, plan, rec)


def _plan(req: LoadRequest, settings: Settings, rec: LoadRecord, fmt: FileFormat, stage: str) -> PublishPlan:
    stamp = dt.datetime.now(dt.UTC).strftime(BACKUP_STAMP)
    return PublishPlan(mode=req.mode, ref_schema=settings.schemas.ref, bkp_schema=settings.schemas.bkp,
                       stage_schema=settings.schemas.stage, table=rec.table_name, stage=stage,
                       columns=tuple(fmt.columns), backups_keep=settings.load.backups_keep,
                       backup_name=backup_name(rec.table_name, stamp))


def _locator(req: LoadRequest, fmt: FileFormat) -> RowLocator:
    return lambda row, col, why: locate_data_row(req.path, fmt, row, col, why)


def _settle(req: LoadRequest, settings: Settings, stream: CsvStream, rec: LoadRecord, fmt: FileFormat,
            loaded: int, t0: float) -> None:
    """Every row read is loaded or rejected, and as many as the detector counted; else nothing is published."""
    rec.read_seconds = time.perf_counter() - t0
    rec.rows_read, rec.rows_loaded, rec.rows_rejected = stream.rows, loaded, len(stream.rejects)
    if fmt.n_rows is not None and stream.rows != fmt.n_rows:
        raise LoaderError(f"the detector counted {fmt.n_rows} data rows but the reader read {stream.rows}; "
                          "nothing published (please report this file)")
    if loaded + len(stream.rejects) != stream.rows:
        raise LoaderError(f"the database holds {loaded} new rows and {len(stream.rejects)} were rejected, but "
                          f"{stream.rows} were read; nothing published")
    _keep_rejects(req, settings, stream, rec)
    rec.resolve_sha256()


def _keep_rejects(req: LoadRequest, settings: Settings, stream: CsvStream, rec: LoadRecord) -> None:
    """Write <name>.rejects.csv and say so in the record: the user fixes those rows and re-drops them."""
    if not stream.rejects:
        return
    locate_rejects(req.path, stream.fmt, stream.rejects)
    folder = req.rejects_dir or settings.load.rejects_dir or os.path.join(os.path.dirname(req.path) or ".", "rejects")
    path = write_rejects(os.path.join(folder, os.path.basename(req.path) + ".rejects.csv"), stream.rejects)
    rec.rejects_file = path
    first = stream.rejects[0]
    rec.error = f"{len(stream.rejects)} rows rejected (see {path}); first: {first.describe(req.path)}"


def _conform(fmt: FileFormat, existing: list[Column] | None, path: str, rec: LoadRecord) -> None:
    """Appending to an existing table: the table's column types win over detection."""
    if existing is None:
        return
    by_name = {c.name: c for c in existing}
    extra = [c.name for c in fmt.columns if c.name not in by_name]
    if extra:
        raise BadInputError(f"columns {extra} are not in {rec.schema_name}.{rec.table_name} "
                            f"(it has {[c.name for c in existing]}); nothing appended")
    fmt.columns = [Column(c.name, by_name[c.name].type, c.source_name,
                          parse=c.parse if by_name[c.name].type.kind == c.type.kind else None) for c in fmt.columns]


def _result(req: LoadRequest, rec: LoadRecord, code: int, started: float) -> LoadResult:
    return LoadResult(path=req.path, status=rec.status, exit_code=code, table=f"{rec.schema_name}.{rec.table_name}",
                      load_id=rec.load_id, rows_read=rec.rows_read, rows_loaded=rec.rows_loaded,
                      rows_rejected=rec.rows_rejected, seconds=time.perf_counter() - started,
                      backup=rec.backup_table, error=rec.error, rejects_file=rec.rejects_file,
                      error_line=rec.error_line, error_column=rec.error_column, sha256=rec.sha256)


def _failed(req: LoadRequest, rec: LoadRecord | None, target: Target | None, e: LoaderError,
            started: float) -> LoadResult:
    status = Status.DUPLICATE if isinstance(e, DuplicateFileError) else Status.FAILED
    if rec is None:
        return LoadResult(path=req.path, status=status, exit_code=e.exit_code, seconds=time.perf_counter() - started,
                          error=str(e), transient=e.transient)
    # nothing was published: every row read counts as rejected with the file
    rec.rows_loaded, rec.rows_rejected = 0, rec.rows_read
    with contextlib.suppress(Exception):
        rec.resolve_sha256()
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
