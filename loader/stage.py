"""Staging and publishing one planned load: the batches, the bulk path, the rejects, the counts.

load.py decides (the request, detection, the plan, the retry that widens a column); this module
moves the rows: the reader's batches (cast under rescue, with value and lineage columns appended)
into staging or straight into the table, the server-parsed raw COPY where it reads the file
exactly as the reader does, the rejects file, the row counts checked against the reader's, and the
publish with its tracking row. The file's SHA-256 is computed in a thread while it is staged.
"""

from __future__ import annotations

import concurrent.futures
import contextlib
import dataclasses
import hashlib
import logging
import os
import time
from dataclasses import dataclass
from typing import cast

import pyarrow as pa

from . import filenames, lineage, mapping, rescue, targets
from .coltypes import Mode
from .config import Settings
from .errors import BadInputError, FastPathMismatch, LoaderError, LocalDiskError, Where
from .opened import InputChangedError, Opened
from .plan import LoadPlan
from .readers import Detection, Input, Reader, ReadOptions, Stream
from .rejects import Reject, RowPolicy, write_rejects
from .request import LoadRequest
from .targets import Target
from .targets.base import RawChunks, RawCsvTarget
from .targets.sql.merge import ROW
from .track import LoadRecord

log = logging.getLogger("loader")


@dataclass(frozen=True)
class LoadJob:
    """One load after detection: what every later step needs, in one place."""

    req: LoadRequest
    settings: Settings
    target: Target
    rec: LoadRecord
    source: Input
    options: ReadOptions
    reader: Reader
    detection: Detection  # as the reader saw it; the plan says how it is read
    opened: Opened  # the one checked descriptor every byte comes from; checked for changes before publish


_HASHER = concurrent.futures.ThreadPoolExecutor(max_workers=2, thread_name_prefix="sha256")
SOURCES: dict[str, Input] = {}  # load id -> its input, for a hash started late (start_hash)


def start_hash(rec: LoadRecord) -> None:
    """Hash in a thread (hashlib releases the GIL) while the file is staged, unless a fast path that
    reads the file anyway already gave the hash, or a hash is on its way."""
    source = SOURCES.get(rec.load_id)
    if not rec.sha256 and rec.sha256_pending is None and source is not None:
        rec.sha256_pending = _HASHER.submit(sha256_of, source)


def resolve_hash(rec: LoadRecord) -> None:
    start_hash(rec)
    rec.resolve_sha256()


def sha256_of(source: Input) -> str:
    with source.open() as f:
        return hashlib.file_digest(f, "sha256").hexdigest()  # type: ignore[arg-type]  # IO has no readinto

def drop_stage(target: Target, schema: str, stage: str) -> None:
    try:
        target.drop_stage(schema, stage)
    except LoaderError as e:
        log.warning("could not drop staging table %s.%s: %s (recovery drops it)", schema, stage, e)


def stage_and_publish(job: LoadJob, plan: LoadPlan, policy: RowPolicy) -> None:
    detection = plan.read_as(job.detection)
    stream = job.reader.stream(job.source, plan.reading(job.detection), job.options, policy)
    if _fast_path(job, plan, stream, detection):
        return
    start_hash(job.rec)
    t0 = time.perf_counter()
    try:
        if plan.direct:  # COPY straight into ref.T inside the publish transaction: no staging copy of every row
            job.target.append_direct(plan.publication(), _batches(job, plan, stream), stream.locate, job.rec,
                                     lambda copied: _settle(job, stream, detection, copied, t0))
            return
        loaded = job.target.write_stage(plan.stage_schema, plan.stage, _batches(job, plan, stream), stream.locate)
    except Exception:
        job.rec.rows_read = stream.rows
        _keep_rejects(job, stream)
        if stream.error is not None:  # the reader's own error is the precise one
            raise stream.error from None
        raise
    rejecting = plan.mode == Mode.MERGE and plan.duplicate_keys == "reject"
    _settle(job, stream, detection, loaded, t0, keep_rejects=not rejecting)
    targets.publish(job.target, plan.publication(), job.rec, _repeated(job, plan, stream) if rejecting else None)


def _repeated(job: LoadJob, plan: LoadPlan, stream: Stream) -> targets.Repeated:
    """duplicate_keys = "reject": the rows of repeated keys join the file's rejects, inside the publish
    transaction (a retried publish replaces what the last attempt wrote). Their number in staging
    is their data row in the file (lineage.Numbers), so the rejects file finds their lines."""
    rec, keys, earlier, staged = job.rec, ", ".join(plan.keys), list(stream.rejects), job.rec.rows_loaded
    written: list[str] = []

    def take(rows: list[tuple[int, str]]) -> None:
        stream.rejects[:] = earlier + [
            Reject(f"the key ({keys}) = {key} repeats in the file: every row of a repeated key is rejected "
                   "(duplicate_keys = \"reject\")", column=plan.keys[0], value=key, data_row=row - 1)
            for row, key in rows]
        rec.rows_loaded, rec.rows_rejected = staged - len(rows), len(stream.rejects)
        policy = RowPolicy.of(job.settings.load)
        if rows and policy.reject_rows and policy.over_limit(len(stream.rejects), stream.rows, final=True):
            raise BadInputError(f"{len(stream.rejects)} of {stream.rows} rows rejected ({policy.allowed()}), "
                                f"{len(rows)} of them for repeated keys ({keys}); nothing merged",
                                Where(file=job.source.path))
        for path in written:  # an earlier attempt of this publish
            with contextlib.suppress(OSError):
                os.remove(path)
        _keep_rejects(job, stream)
        written[:] = [rec.rejects_file] if rec.rejects_file else []
    return take


def _batches(job: LoadJob, plan: LoadPlan, stream: Stream) -> pa.RecordBatchReader:
    """The reader's batches, cast under rescue, with lineage values and merge's row numbers appended
    where the plan has them."""
    batches = stream.reader()
    if plan.rescue:
        batches = rescue.rescued(batches, plan.columns, plan.rescued_from, plan.keys, job.source.path,
                                 job.rec.note)
    if not plan.added:
        return batches
    rec = job.rec
    values = lineage.Values(rec.load_id, os.path.basename(job.source.path), rec.started_at)
    fixed = {c.name: mapping.scalar(c, text, job.source.path) for c, text in zip(plan.fixed, plan.fixed_values)}
    return lineage.added(batches, [*plan.fixed, *plan.lineage], values,
                         ROW if plan.mode == Mode.MERGE else None, fixed,
                         skipped=lambda: [r.data_row for r in stream.rejects if r.data_row is not None])


def _fast_path(job: LoadJob, plan: LoadPlan, stream: Stream, detection: Detection) -> bool:
    """The server parses the file's own CSV bytes where it reads them exactly as the reader does
    (targets/pgcopy.py); False, with nothing loaded, when the plain path must run instead."""
    raw_of = getattr(stream, "raw", None)
    if plan.added or plan.rescue:  # lineage, merge's row numbers and _rescued are not in the file's bytes
        return False
    if not job.target.capabilities.raw_csv or raw_of is None or (raw := raw_of()) is None:
        return False
    target = cast(RawCsvTarget, job.target)
    log.debug("%s: raw CSV COPY (the server parses the file's own bytes)", job.req.path)
    t0 = time.perf_counter()
    try:
        if plan.direct:
            target.append_direct_raw(plan.publication(), raw, stream.locate, job.rec,
                                     lambda copied: _settle_raw(job, raw, detection, copied, t0))
            return True
        loaded = target.write_stage_raw(plan.stage_schema, plan.stage, raw, stream.locate)
        _settle_raw(job, raw, detection, loaded, t0)
    except FastPathMismatch as e:
        log.info("%s: %s; loading it through the plain path", job.req.path, e.reason)
        if not plan.direct:  # start the stage again empty
            drop_stage(job.target, plan.stage_schema, plan.stage)
            job.target.create_stage(plan.stage_schema, plan.stage, plan.stage_columns)
        return False
    targets.publish(job.target, plan.publication(), job.rec)
    return True


def _settle_raw(job: LoadJob, raw: RawChunks, detection: Detection, loaded: int, t0: float) -> None:
    """As _settle: any count that differs sends the load to the plain path, which says why."""
    rec = job.rec
    rec.read_seconds = time.perf_counter() - t0
    if (detection.n_rows is not None and raw.rows != detection.n_rows) or loaded != raw.rows:
        raise FastPathMismatch(f"{raw.rows} rows read, {loaded} stored, {detection.n_rows} counted by detection")
    rec.rows_read, rec.rows_loaded, rec.rows_rejected = raw.rows, loaded, 0
    _refuse_empty(job, loaded)
    if raw.source is job.source:  # the chunks hashed the file as delivered on their way
        rec.sha256, rec.sha256_pending = raw.sha256, None
    else:  # a decompressed stream: the tracking row keeps the hash of the compressed file
        resolve_hash(rec)
    _unchanged(job)


def _settle(job: LoadJob, stream: Stream, detection: Detection, loaded: int, t0: float,
            keep_rejects: bool = True) -> None:
    """Every row read is loaded or rejected, and as many as the detector counted; else nothing is published."""
    rec = job.rec
    rec.read_seconds = time.perf_counter() - t0
    rec.rows_read, rec.rows_loaded, rec.rows_rejected = stream.rows, loaded, len(stream.rejects)
    _note_stream(job, stream, detection)
    _refuse_empty(job, loaded)
    if detection.n_rows is not None and stream.rows != detection.n_rows:
        raise LoaderError(f"the detector counted {detection.n_rows} data rows but the reader read {stream.rows}; "
                          "nothing published (please report this file)")
    if loaded + len(stream.rejects) != stream.rows:
        raise LoaderError(f"the database holds {loaded} new rows and {len(stream.rejects)} were rejected, but "
                          f"{stream.rows} were read; nothing published")
    if keep_rejects:  # else the publish writes them (duplicate_keys = "reject" adds its own)
        _keep_rejects(job, stream)
    resolve_hash(rec)
    _unchanged(job)


def _refuse_empty(job: LoadJob, loaded: int) -> None:
    """A header-only file must not silently empty a full table: replacing it with nothing is asked for."""
    if loaded == 0 and job.req.mode == Mode.FULLLOAD and not job.settings.load.allow_empty:
        raise BadInputError(f"0 rows to load: a full load would replace {job.rec.schema_name}.{job.rec.table_name} "
                            "with an empty table; nothing replaced (--allow-empty, or load.allow_empty = true, "
                            "to do that)", Where(file=job.source.path))


def _unchanged(job: LoadJob) -> None:
    """The last step before publishing: every byte used (rows and hash) was read from a file that is
    still as it was when opened; a writer still appending gets nothing published."""
    changed = job.opened.changed()
    if changed:
        raise InputChangedError(changed, Where(file=job.source.path))


def _note_stream(job: LoadJob, stream: Stream, detection: Detection) -> None:
    """Notes the reader made while reading (ragged rows kept, NULs past the sample) join the tracking row's."""
    notes = list(getattr(stream, "notes", []))
    if notes:
        log.info("%s: %s", job.req.path, "; ".join(notes))
        job.rec.set_format(dataclasses.replace(detection, notes=[*detection.notes, *notes]).as_dict())


def _keep_rejects(job: LoadJob, stream: Stream) -> None:
    """Write <name>.rejects.csv and say so in the record: the user fixes those rows and re-drops them."""
    if not stream.rejects:
        return
    stream.locate_rejects()
    req = job.req
    folder = (req.rejects_dir or job.settings.load.rejects_dir
              or os.path.join(os.path.dirname(req.path) or ".", "rejects"))
    name = filenames.fit(os.path.basename(req.path), suffix=".rejects.csv")
    try:
        path = write_rejects(os.path.join(folder, name), stream.rejects)
    except OSError as e:  # a full or failing disk under rejects/: retried, never lost, never "bad data"
        raise LocalDiskError(f"cannot write the rejects file in {folder}: {e.strerror or e}") from None
    job.rec.rejects_file = path
    first = stream.rejects[0]
    job.rec.error = f"{len(stream.rejects)} rows rejected (see {path}); first: {first.describe(job.source.path)}"
