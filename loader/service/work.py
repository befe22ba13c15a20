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
import re
import socket
from dataclasses import dataclass
from pathlib import Path

from ..config import Settings
from ..errors import EXIT_SOFTWARE, EXIT_UNAVAILABLE, LoaderError
from ..load import LoadRequest, LoadResult, load_file
from ..targets import open_target
from . import folders

log = logging.getLogger("loader.work")
DONE = ("loaded", "duplicate")
_LINE = re.compile(r"line (\d+)")
_COLUMN = re.compile(r"column '([^']*)'")


@dataclass(frozen=True)
class Job:
    path: str  # absolute: <root>/processing/<claim id>/<name>, or the file itself for in-place backfill
    root: str
    route: str
    schema: str
    table: str
    mode: str
    settings: Settings
    attempt: int = 0
    last_try: bool = False  # a transient failure now fails the file instead of asking for a retry
    recovered: bool = False  # claimed before (crash, retry): look for an earlier outcome first
    in_place: bool = False  # backfill: load without moving the file
    bad_rows: str = ""  # the route's bad-row policy; empty = load.bad_rows
    max_rejects: str = ""


@dataclass
class Outcome:
    path: str
    action: str  # archived | failed | retry | unavailable | busy | gone | skipped
    result: LoadResult | None = None
    moved_to: str | None = None
    reason: str | None = None
    pid: int = dataclasses.field(default_factory=os.getpid)


def route_settings(settings: Settings, schema: str, bad_rows: str = "", max_rejects: str = "") -> Settings:
    """The route's schema becomes the publish schema (load_file publishes into schemas.ref), and its
    bad-row policy the load's."""
    load = settings.load
    if bad_rows or max_rejects:
        load = dataclasses.replace(load, bad_rows=bad_rows or load.bad_rows,
                                   max_rejects=max_rejects or load.max_rejects)
    return dataclasses.replace(settings, schemas=dataclasses.replace(settings.schemas, ref=schema), load=load)


def rejects_dir(root: str, path: Path) -> str:
    """<root>/rejects/, or <root>/rejects/<claim id>/ when <name>.rejects.csv is already taken there:
    rejects of an earlier file with the same name are never overwritten."""
    base = os.path.join(root, "rejects")
    if not os.path.lexists(os.path.join(base, path.name + ".rejects.csv")):
        return base
    return os.path.join(base, path.parent.name)


def process(job: Job) -> Outcome:
    try:
        return _in_place(job) if job.in_place else _claimed(job)
    except Exception as e:  # a bug must not kill the worker; the file waits in processing/ for a person
        log.exception("unexpected error processing %s", job.path)
        return Outcome(job.path, "retry", reason=f"internal error: {type(e).__name__}: {e}")


def _claimed(job: Job) -> Outcome:
    path = Path(job.path)
    try:
        fd = folders.lock_claim(path)
    except FileNotFoundError:
        return Outcome(job.path, "gone")
    if fd is None:
        return Outcome(job.path, "busy", reason="another live process holds the claim")
    try:
        if not path.exists():
            folders.remove_claim_folder(path.parent)
            return Outcome(job.path, "gone")
        refused = folders.refusal(job.root, str(path))
        if refused:
            return _fail(job, path, None, f"{path.name}: refused: {refused}")
        settings = route_settings(job.settings, job.schema, job.bad_rows, job.max_rejects)
        if job.recovered:
            earlier = _reconcile(job, settings)
            if isinstance(earlier, Outcome):
                return earlier
            if earlier is not None:
                dst = folders.archive(job.root, path, _today())
                return Outcome(job.path, "archived", moved_to=str(dst), reason=f"already {earlier['status']} "
                               f"(load {earlier['load_id']}); archived without loading again")
        request = LoadRequest(str(path), job.table, job.mode, route=job.route,
                              rejects_dir=rejects_dir(job.root, path))
        return _after_load(job, path, load_file(request, settings))
    finally:
        os.close(fd)


def _after_load(job: Job, path: Path, result: LoadResult) -> Outcome:
    if result.status in DONE:
        dst = folders.archive(job.root, path, _today())
        return Outcome(job.path, "archived", result, str(dst))
    if result.exit_code == EXIT_UNAVAILABLE and not job.last_try:
        return Outcome(job.path, "unavailable", result, reason=result.error)
    if _transient(result) and not job.last_try:
        return Outcome(job.path, "retry", result, reason=result.error)
    return _fail(job, path, result, result.error or "failed")


def _transient(result: LoadResult) -> bool:
    from ..errors import EXIT_TEMPFAIL

    return result.transient or result.exit_code in (EXIT_UNAVAILABLE, EXIT_TEMPFAIL)


def _reconcile(job: Job, settings: Settings) -> dict[str, object] | Outcome | None:
    """An earlier loaded/duplicate row of this claim, after failing the rows of dead loads."""
    try:
        target = open_target(settings)
    except LoaderError as e:
        return Outcome(job.path, "unavailable", reason=str(e))
    try:
        target.ensure_ready()
        rows = target.tracker.loads_of_file(job.path)
        for row in rows:
            if row["status"] == "loading":
                load_id = str(row["load_id"])
                target.tracker.mark_interrupted(load_id, f"interrupted: process {row['pid']} on {row['host']} stopped "
                                                 "before the load finished; the file was loaded again")
                target.drop_leftover_stages(settings.schemas.stage, [load_id])
                row["status"] = "failed"
        done = [r for r in rows if r["status"] in DONE]
        return done[-1] if done else None
    except LoaderError as e:
        return Outcome(job.path, "unavailable" if e.transient else "retry", reason=str(e))
    finally:
        with contextlib.suppress(Exception):
            target.close()


def fail_claim(job: Job, reason: str) -> Outcome:
    """The supervisor gives up on a claim whose worker died: fail its dead loads, then the file."""
    path = Path(job.path)
    fd = folders.lock_claim(path)
    if fd is None:
        return Outcome(job.path, "busy", reason="another live process holds the claim")
    try:
        earlier = _reconcile(job, route_settings(job.settings, job.schema))
        if isinstance(earlier, dict):  # it did commit before dying: archive, never fail a loaded file
            return Outcome(job.path, "archived", moved_to=str(folders.archive(job.root, path, _today())))
        return _fail(job, path, None, reason)
    finally:
        os.close(fd)


def _fail(job: Job, path: Path, result: LoadResult | None, reason: str) -> Outcome:
    details = error_details(job, path.name, result, reason)
    dst = folders.fail(job.root, path, details)
    return Outcome(job.path, "failed", result, str(dst), reason=reason)


def error_details(job: Job, name: str, result: LoadResult | None, reason: str) -> dict[str, object]:
    line, column = _where(job, result, reason)
    return {"file": name, "route": job.route, "table": f"{job.schema}.{job.table}", "mode": job.mode,
            "reason": reason, "line": line, "column": column,
            "load_id": result.load_id if result and result.load_id else None,
            "exit_code": result.exit_code if result else EXIT_SOFTWARE, "attempts": job.attempt + 1,
            "failed_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"), "host": socket.gethostname()}


def _where(job: Job, result: LoadResult | None, reason: str) -> tuple[int | None, str | None]:
    """Line and column from the tracking row (exact), else from the message."""
    if result and result.load_id:
        with contextlib.suppress(Exception):
            target = open_target(route_settings(job.settings, job.schema))
            try:
                for row in target.tracker.loads_of_file(job.path):
                    if row["load_id"] == result.load_id:
                        line = row.get("error_line")
                        return (int(str(line)) if line is not None else None,
                                str(row["error_column"]) if row.get("error_column") is not None else None)
            finally:
                target.close()
    m, c = _LINE.search(reason), _COLUMN.search(reason)
    return (int(m.group(1)) if m else None, c.group(1) if c else None)


def _in_place(job: Job) -> Outcome:
    """Backfill: the file stays where it is; a file already loaded from this path is skipped."""
    settings = route_settings(job.settings, job.schema, job.bad_rows, job.max_rejects)
    try:
        target = open_target(settings)
        try:
            target.ensure_ready()
            done = [r for r in target.tracker.loads_of_file(job.path) if r["status"] in DONE]
        finally:
            target.close()
    except LoaderError as e:
        return Outcome(job.path, "unavailable" if e.transient else "retry", reason=str(e))
    if done:
        return Outcome(job.path, "skipped", reason=f"already {done[-1]['status']} (load {done[-1]['load_id']})")
    result = load_file(LoadRequest(job.path, job.table, job.mode, route=job.route), settings)
    if result.status in DONE:
        return Outcome(job.path, "archived", result)
    if _transient(result) and not job.last_try:
        return Outcome(job.path, "unavailable" if result.exit_code == EXIT_UNAVAILABLE else "retry", result,
                       reason=result.error)
    return Outcome(job.path, "failed", result, reason=result.error)


def _today() -> dt.date:
    return dt.datetime.now(dt.UTC).date()
