"""One claimed file, start to finish, in a worker: lock the claim, reconcile, load, move.

`process` is the pool's entry point: a module-level function with a picklable Job, returning
a small Outcome; it never raises. The claim's lock file is held for the whole job, so a file
is worked on by one live process at a time even across a supervisor crash (an orphaned
worker keeps its lock until it exits), and any 'loading' row for the claim's path found
while holding it belongs to a dead process: it is marked failed and its staging table dropped.
"""

from __future__ import annotations

import contextlib
import dataclasses
import datetime as dt
import logging
import os
import socket
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .. import filenames, logs
from ..coltypes import DONE, Action, Mode, Status
from ..config import Settings
from ..errors import EXIT_SOFTWARE, EXIT_UNAVAILABLE, ConfigError, LoaderError, NoInputError
from ..load import LoadRequest, LoadResult, load_file
from ..logs import fields
from ..mapping import Mapping
from ..opened import Opened, RefusedInputError, open_in_root
from ..readers import ReadOptions
from ..targets import Target, open_target
from ..targets.claims import Lease
from . import claim, folders, recovery

log = logging.getLogger("loader.work")


@dataclass(frozen=True)
class Job:
    path: str  # absolute: <root>/processing/<claim id>/<name>, or the file itself for in-place backfill
    root: str
    route: str
    schema: str
    table: str
    mode: Mode | str
    settings: Settings
    attempt: int = 0
    last_try: bool = False  # a transient failure now fails the file instead of asking for a retry
    recovered: bool = False  # claimed before (crash, retry): look for an earlier outcome first
    in_place: bool = False  # backfill: load without moving the file
    load: dict[str, Any] = field(default_factory=dict)  # the route's load.* overrides (route_load)
    read: dict[str, Any] = field(default_factory=dict)  # what the route pins for reading (route_read.py)
    mapping: Mapping | None = None  # the route's columns (mapping.py)
    lease: Lease | None = None  # several hosts: the table's lease this file is loaded under (service/lease.py)

    @property
    def key(self) -> tuple[str, str]:
        """The scheduler's key of this job's table."""
        return self.schema, self.table


@dataclass
class Outcome:
    path: str
    action: Action
    result: LoadResult | None = None
    moved_to: str | None = None
    reason: str | None = None
    pid: int = dataclasses.field(default_factory=os.getpid)


# Targets kept open in this process across loads: a worker connects once (an ADBC connect reads
# the type catalog: 45-230 ms) and runs ensure_ready once, instead of both for every file.
# A few routes may use other schemas; more than this many databases is unusual, the oldest closes.
KEPT_TARGETS = 4
_KEPT: dict[str, Target] = {}


def kept_target(settings: Settings) -> Target:
    """This process's open target for these settings, health-checked; a new one when it does not answer."""
    key = repr((settings.database, settings.schemas))
    target = _KEPT.pop(key, None)
    if target is not None and not _answers(target):
        _close(target)
        target = None
    if target is None:
        target = open_target(settings)
        try:
            target.ensure_ready()
        except BaseException:
            _close(target)
            raise
    _KEPT[key] = target  # most recently used last
    while len(_KEPT) > KEPT_TARGETS:
        _close(_KEPT.pop(next(iter(_KEPT))))
    return target


def forget_target(settings: Settings) -> None:
    """After a database failure the connection's state is unknown: the next load opens a new one."""
    target = _KEPT.pop(repr((settings.database, settings.schemas)), None)
    if target is not None:
        _close(target)


def close_kept() -> None:
    while _KEPT:
        _close(_KEPT.pop(next(iter(_KEPT))))


def _answers(target: Target) -> bool:
    try:
        target.tracker.session.query("SELECT 1")
        return True
    except Exception:
        return False


def _close(target: Target) -> None:
    with contextlib.suppress(Exception):
        target.close()


def _load(request: LoadRequest, settings: Settings, **kwargs: Any) -> LoadResult:
    """load_file on this process's kept target; a target that cannot open is load_file's own failure.
    Under a lease (request.lease) the publish is fenced by it, on whichever target (Tracker.record_end)."""
    try:
        target = kept_target(settings)
    except ConfigError:
        raise  # the database settings are wrong: process() stops the service, the file is not failed
    except LoaderError:
        return load_file(request, settings, **kwargs)  # reports the failure (and its exit code) as always
    result = load_file(request, settings, target=target, **kwargs)
    if result.transient or result.exit_code == EXIT_SOFTWARE:
        forget_target(settings)
    return result


def route_settings(settings: Settings, schema: str, load: dict[str, Any] | None = None) -> Settings:
    """The route's schema becomes the publish schema (load_file publishes into schemas.ref), and its
    load.* overrides (bad-row policy, ragged rows, ...) the load's."""
    return dataclasses.replace(settings, schemas=dataclasses.replace(settings.schemas, ref=schema),
                               load=dataclasses.replace(settings.load, **(load or {})))


def rejects_dir(root: str, path: Path) -> str:
    """<root>/rejects/, or <root>/rejects/<claim id>/ when <name>.rejects.csv is already taken there:
    rejects of an earlier file with the same name are never overwritten."""
    base = os.path.join(root, "rejects")
    if not os.path.lexists(os.path.join(base, filenames.fit(path.name, suffix=".rejects.csv"))):
        return base
    return os.path.join(base, path.parent.name)


def process(job: Job) -> Outcome:
    logs.hide(job.settings.database.url)  # a worker process: its log lines never show the password either
    run = getattr(job, "run", None)  # a database source's job (service/sources.py) runs itself
    if run is not None:
        logs.hide(job.source.url)  # type: ignore[attr-defined]
        return run()  # type: ignore[no-any-return]
    try:
        return _in_place(job) if job.in_place else _claimed(job)
    except ConfigError as e:  # opening the database failed for good: it would for every file alike
        log.error("cannot use the database: %s", e, extra=fields(file=Path(job.path).name, stage=Action.CONFIG))
        return Outcome(job.path, Action.CONFIG, reason=str(e))
    except Exception as e:  # a bug must not kill the worker; the file waits in processing/ for a person
        log.exception("unexpected error processing %s", job.path)
        return Outcome(job.path, Action.RETRY, reason=f"internal error: {type(e).__name__}: {e}")


def _claimed(job: Job) -> Outcome:
    path = Path(job.path)
    if job.lease is not None:  # the table's lease, not a local lock, says who works on the claim
        return _locked(job, path)
    try:
        fd = claim.lock_claim(path)
    except FileNotFoundError:
        return Outcome(job.path, Action.GONE)
    if fd is None:
        return Outcome(job.path, Action.BUSY, reason="another live process holds the claim")
    try:
        return _locked(job, path)
    finally:
        os.close(fd)


def _locked(job: Job, path: Path) -> Outcome:
    if not os.path.lexists(path):  # lexists: a dangling link is still there, and is refused below
        folders.remove_claim_folder(path.parent)
        return Outcome(job.path, Action.GONE)
    try:
        opened = open_in_root(job.root, str(path))
    except RefusedInputError as e:
        return _fail(job, path, None, f"{path.name}: refused: {e.reason}")
    except NoInputError as e:
        return _fail(job, path, None, f"{path.name}: {e.reason}")
    with opened:
        return _opened(job, path, opened)


def _opened(job: Job, path: Path, opened: Opened) -> Outcome:
    """Every byte of the load comes from `opened`: the name is never looked up again until the move."""
    quiet = opened.quiet_s()
    if job.attempt and 0 <= quiet < job.settings.service.stable_s:  # it changed during an earlier try
        return Outcome(job.path, Action.BUSY, reason=f"still being written ({quiet:.1f}s ago): waiting until it "
                       "settles")
    settings = route_settings(job.settings, job.schema, job.load)
    if job.recovered:
        earlier = _reconcile(job, settings)
        if isinstance(earlier, Outcome):
            return earlier
        if earlier is not None:
            if (lost := _lost(job)) is not None:
                return lost
            dst = folders.archive(job.root, path, _today())
            return Outcome(job.path, Action.ARCHIVED, moved_to=str(dst), reason=f"already {earlier['status']} "
                           f"(load {earlier['load_id']}); archived without loading again")
    request = LoadRequest(str(path), job.table, job.mode, route=job.route, rejects_dir=rejects_dir(job.root, path),
                          mapping=job.mapping, lease=job.lease)
    return _after_load(job, path, _load(request, settings, options=ReadOptions(**job.read), opened=opened,
                                         shown_as=path.name))


def _after_load(job: Job, path: Path, result: LoadResult) -> Outcome:
    if result.status in DONE:
        if (lost := _lost(job, result)) is not None:
            return lost
        try:
            dst = folders.archive(job.root, path, _today())
        except OSError as e:  # committed: the retry finds the loaded row and only moves the file
            return Outcome(job.path, Action.RETRY, result, reason=f"loaded, but cannot move it to archive/: {e}")
        return Outcome(job.path, Action.ARCHIVED, result, str(dst))
    retry = _retry_action(result, job.last_try)
    if retry is not None:
        return _lost(job, result) or Outcome(job.path, retry, result, reason=result.error)
    return _fail(job, path, result, result.error or Status.FAILED)


def _retry_action(result: LoadResult, last_try: bool) -> Action | None:
    """A transient failure (the error's class says so) asks for a retry, or a pause when the database
    is out of reach; on the last try it fails the file like any other."""
    if not result.transient or last_try:
        return None
    return Action.UNAVAILABLE if result.exit_code == EXIT_UNAVAILABLE else Action.RETRY


def _reconcile(job: Job, settings: Settings) -> dict[str, object] | Outcome | None:
    """An earlier loaded/duplicate row of this claim (after failing the rows of dead loads), or why not."""
    try:
        with recovery.connected(settings) as target:
            return recovery.earlier_load(target, job.path, settings.schemas.stage)
    except ConfigError:
        raise
    except LoaderError as e:
        return Outcome(job.path, Action.UNAVAILABLE if e.transient else Action.RETRY, reason=str(e))


def fail_claim(job: Job, reason: str) -> Outcome:
    """The supervisor gives up on a claim whose worker died: fail its dead loads, then the file."""
    path = Path(job.path)
    fd = None if job.lease is not None else claim.lock_claim(path)
    if fd is None and job.lease is None:
        return Outcome(job.path, Action.BUSY, reason="another live process holds the claim")
    try:
        try:
            earlier = _reconcile(job, route_settings(job.settings, job.schema))
        except ConfigError as e:  # the settings are at fault, not the file: it waits in processing/
            return Outcome(job.path, Action.RETRY, reason=str(e))
        if isinstance(earlier, Outcome):  # the database cannot say whether it committed: never fail it blind
            return earlier
        if isinstance(earlier, dict):  # it did commit before dying: archive, never fail a loaded file
            return Outcome(job.path, Action.ARCHIVED, moved_to=str(folders.archive(job.root, path, _today())))
        return _fail(job, path, None, reason)
    finally:
        if fd is not None:
            os.close(fd)


def _lost(job: Job, result: LoadResult | None = None) -> Outcome | None:
    """Under a lease, before any move: is the file still this host's? If not, another host owns it now
    and this one leaves it where it is (its publish, if any, was fenced and rolled back)."""
    if job.lease is None:
        return None
    try:
        claims = kept_target(route_settings(job.settings, job.schema)).tracker.claims
        held = claims is None or claims.holds(job.lease)
    except ConfigError:
        raise
    except LoaderError as e:  # cannot tell: the file stays in processing/ and the claim is looked at again
        return Outcome(job.path, Action.UNAVAILABLE if e.transient else Action.RETRY, result,
                       reason=f"cannot check the claim on {job.lease.key}: {e}")
    if held:
        return None
    return Outcome(job.path, Action.LOST, result, reason=f"the claim on {job.lease.key} passed to another host "
                   "(this one's lease ran out); that host loads the file")


def _fail(job: Job, path: Path, result: LoadResult | None, reason: str) -> Outcome:
    if (lost := _lost(job, result)) is not None:
        return lost
    details = error_details(job, path.name, result, reason)
    try:
        dst = folders.fail(job.root, path, details)
    except OSError as e:  # a full drop root: the file and its reason wait in processing/, never half-moved
        log.error("cannot move %s to failed/ (%s); it stays in processing/ and is tried again: %s", path.name, e,
                  reason, extra=fields(file=path.name, stage=Action.RETRY))
        return Outcome(job.path, Action.RETRY, result, reason=f"cannot write failed/: {e.strerror or e}; {reason}")
    return Outcome(job.path, Action.FAILED, result, str(dst), reason=reason)


def error_details(job: Job, name: str, result: LoadResult | None, reason: str) -> dict[str, object]:
    """<name>.error.json: the line and column come from the load's own error, as its tracking row has them."""
    return {"file": name, "route": job.route, "table": f"{job.schema}.{job.table}", "mode": job.mode,
            "reason": logs.redacted(reason), "line": result.error_line if result else None,
            "column": result.error_column if result else None,
            "load_id": result.load_id if result and result.load_id else None,
            "exit_code": result.exit_code if result else EXIT_SOFTWARE, "attempts": job.attempt + 1,
            "failed_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"), "host": socket.gethostname()}


def _in_place(job: Job) -> Outcome:
    """Backfill: the file stays where it is; a file already loaded from this path is skipped."""
    settings = route_settings(job.settings, job.schema, job.load)
    try:
        with recovery.connected(settings) as target:
            done = recovery.loaded_from(target, job.path, job.schema, job.table)
    except ConfigError:
        raise
    except LoaderError as e:
        return Outcome(job.path, Action.UNAVAILABLE if e.transient else Action.RETRY, reason=str(e))
    if done is not None:
        return Outcome(job.path, Action.SKIPPED, reason=f"already {done['status']} (load {done['load_id']})")
    result = _load(LoadRequest(job.path, job.table, job.mode, route=job.route, mapping=job.mapping), settings,
                   options=ReadOptions(**job.read))
    if result.status in DONE:
        return Outcome(job.path, Action.ARCHIVED, result)
    retry = _retry_action(result, job.last_try)
    return Outcome(job.path, retry or Action.FAILED, result, reason=result.error)


def _today() -> dt.date:
    return dt.datetime.now(dt.UTC).date()
