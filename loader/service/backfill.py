"""Backfill: years of historical files through the same pool, in date order, resumable.

Files are loaded where they lie (a history tree is not an inbox: nothing is moved). The order
is the date in the file name (yyyymmdd or yyyy-mm-dd), else the file's mtime; files of one
table load one at a time in that order, tables in parallel. Run it again and every file
already loaded from the same path is skipped, so an interrupted backfill resumes.
"""

from __future__ import annotations

import collections
import datetime as dt
import json
import logging
import os
import sys
import time
from dataclasses import dataclass, field

from .. import routes
from ..coltypes import DONE, Action, Status
from ..config import RouteSettings, Settings, route_load, route_mapping
from ..errors import EXIT_CONFIG, EXIT_DATA, EXIT_INTERRUPTED, EXIT_OK, BadInputError, NoInputError
from ..route_read import read_pins
from . import folders
from .pool import Finished, InlinePool, ProcessPool
from .scheduler import RetryPolicy, Scheduler, Step
from .work import Job

log = logging.getLogger("loader.backfill")


@dataclass(order=True)
class Entry:
    when: dt.datetime
    path: str
    dest: routes.Destination = field(compare=False)


def collect(dirs: list[str], route: RouteSettings, default_schema: str) -> tuple[list[Entry], list[str]]:
    """Every file the route wants under the folders, oldest first; and the ones refused, with why."""
    entries, refused = [], []
    for top in dirs:
        for folder, subdirs, files in os.walk(top):
            subdirs.sort()
            for name in sorted(files):
                path = os.path.abspath(os.path.join(folder, name))
                if not routes.wants(route, name):
                    continue
                why = folders.refusal(top, path)
                if why:
                    refused.append(f"{path}: {why}")
                    continue
                try:
                    dest = routes.destination(route, name, default_schema)
                except BadInputError as e:
                    refused.append(str(e))
                    continue
                when = (dt.datetime.combine(dest.date, dt.time()) if dest.date
                        else dt.datetime.fromtimestamp(os.path.getmtime(path)))
                entries.append(Entry(when, path, dest))
    return sorted(entries), refused


ON_ERROR = ("stop-table", "stop", "continue")  # what a failed file stops: its table's later files, all, nothing


def backfill(settings: Settings, dirs: list[str], route: RouteSettings, progress: bool | None = None,
             as_json: bool = False, on_error: str = "stop-table") -> int:
    """as_json: the summary as one JSON object on stdout (scripts), instead of a line on stderr.

    on_error: a failed file leaves a gap in an appended history, so by default the later files of
    its table do not load (other tables go on); run backfill again once it is fixed and it resumes
    there. "stop" stops everything, "continue" loads around the gap.

    Ctrl-C: nothing new starts, the running loads finish (each is one transaction) and the summary
    says what is left; a second Ctrl-C aborts those too (they roll back). Exit 130 either way.
    """
    missing = [d for d in dirs if not os.path.isdir(d)]
    if missing:
        raise NoInputError(f"backfill: no such folder: {', '.join(missing)}")
    entries, refused = collect(dirs, route, settings.schemas.ref)
    for why in refused:
        log.error("refused %s", why)
    svc = settings.service
    sched: Scheduler[Entry] = Scheduler(RetryPolicy(svc.retry_max, svc.retry_base_s, svc.retry_cap_s))
    for n, e in enumerate(entries):  # arrival = date order: the oldest head of any table goes first
        sched.add((e.dest.schema, e.dest.table), e, float(n))
    pool: ProcessPool | InlinePool = InlinePool() if svc.workers == 1 else ProcessPool(svc.workers)
    bar = Progress(len(entries), sys.stderr.isatty() if progress is None else progress)
    run = _Run(sched, pool, bar, on_error)
    try:
        run.loop(settings, route)
    finally:
        pool.close()
        bar.done()
    return _summary(bar, len(entries), refused, run, as_json)


@dataclass
class _Run:
    sched: Scheduler[Entry]
    pool: ProcessPool | InlinePool
    bar: Progress
    on_error: str
    interrupted: bool = False
    not_started: int = 0
    config_error: str | None = None  # the database settings are wrong: nothing more starts, exit 78

    def loop(self, settings: Settings, route: RouteSettings) -> None:
        while not self.sched.idle():
            try:
                self._step(settings, route)
            except KeyboardInterrupt:
                if self.interrupted or not self.pool.busy() or isinstance(self.pool, InlinePool):
                    self._abort()
                    return
                self.interrupted = True
                self.not_started += len(self.sched.drop_all())
                log.warning("interrupted: finishing %d running load(s) (nothing new starts); Ctrl-C again "
                            "to abort them", len(self.pool.busy()))

    def _step(self, settings: Settings, route: RouteSettings) -> None:
        _dispatch(self.sched, self.pool, settings, route)
        waits = self.pool.busy() or isinstance(self.pool, ProcessPool)  # idle workers that die are seen too
        for f in self.pool.wait(0.1) if waits else []:
            if f.outcome is not None and f.outcome.action == Action.CONFIG:
                self._config_stop(f)
            elif _finished(f, self.sched, self.bar) and self.on_error != "continue":
                self._stop_after(f.job)
        if not self.pool.busy():
            time.sleep(0.05)  # everything waits for a backoff or the database

    def _stop_after(self, job: Job) -> None:
        dropped = self.sched.drop_all() if self.on_error == "stop" else self.sched.drop(job.key)
        self.not_started += len(dropped)
        if dropped:
            what = "every table" if self.on_error == "stop" else f"{job.schema}.{job.table}"
            log.error("%d later file(s) of %s not loaded after %s failed (backfill --on-error %s); fix it "
                      "and run backfill again to resume there", len(dropped), what, job.path, self.on_error)

    def _config_stop(self, f: Finished) -> None:
        """Every file would fail alike on wrong database settings: none is counted failed, all wait."""
        self.sched.settle(self.sched.running_item(f.job.key), Action.CONFIG, time.monotonic())
        if self.config_error is None:
            self.config_error = f.outcome.reason if f.outcome else f.reason
            log.error("stopping: the database settings are wrong (%s); fix them and run backfill again",
                      self.config_error)
        self.not_started += len(self.sched.drop_all())

    def _abort(self) -> None:
        """A second Ctrl-C: running loads are killed; their transactions roll back in the database."""
        self.interrupted = True
        self.not_started += len(self.sched.drop_all()) + len(self.pool.busy())
        for worker in self.pool.busy():
            self.pool.kill(worker, "interrupted (Ctrl-C)")


def _summary(bar: Progress, files: int, refused: list[str], run: _Run, as_json: bool) -> int:
    failed = bar.counts[Status.FAILED] + len(refused)
    code = (EXIT_CONFIG if run.config_error else EXIT_INTERRUPTED if run.interrupted
            else EXIT_OK if failed == 0 else EXIT_DATA)
    if as_json:
        print(json.dumps({"files": files + len(refused), "loaded": bar.counts[Status.LOADED],
                          "already_loaded": bar.counts[Action.SKIPPED], "duplicate": bar.counts[Status.DUPLICATE],
                          "failed": failed, "not_started": run.not_started, "interrupted": run.interrupted,
                          "exit_code": code}))
    else:
        left = f", {run.not_started} not started (run it again to resume)" if run.not_started else ""
        print(f"backfill{' interrupted' if run.interrupted else ''}: {bar.counts[Status.LOADED]} loaded, "
              f"{bar.counts[Action.SKIPPED]} already loaded, {bar.counts[Status.DUPLICATE]} duplicate, "
              f"{failed} failed{left}", file=sys.stderr)
    return code


def _dispatch(sched: Scheduler[Entry], pool: ProcessPool | InlinePool, settings: Settings,
              route: RouteSettings) -> None:
    while (worker := pool.idle()) is not None and (item := sched.take(time.monotonic())) is not None:
        e = item.payload
        pool.submit(worker, Job(e.path, os.path.dirname(e.path), route.name, e.dest.schema, e.dest.table,
                                e.dest.mode, settings, attempt=item.attempt, last_try=sched.last_try(item),
                                in_place=True, load=route_load(route), read=read_pins(route),
                                mapping=route_mapping(route)))
        if isinstance(pool, InlinePool):
            return  # inline: run it now, then look again


def _finished(f: Finished, sched: Scheduler[Entry], bar: Progress) -> bool:
    """Book one outcome; True when the file failed for good."""
    item = sched.running_item(f.job.key)
    out = f.outcome
    reason = (out.reason if out else None) or f.reason
    step, delay = sched.settle(item, out.action if out else None, time.monotonic())
    if step in (Step.RETRY, Step.PAUSED):
        log.warning("retrying %s in %.1fs: %s", item.payload.path, delay, reason)
    elif step is Step.GIVE_UP or (out is not None and out.action == Action.FAILED):
        log.error("failed %s: %s", item.payload.path, reason)
        bar.step(Status.FAILED)
        return True
    else:
        status = out.result.status if out and out.result else None
        bar.step(Status(status) if status in DONE else Action.SKIPPED)
    return False


KINDS = (Status.LOADED, Action.SKIPPED, Status.DUPLICATE, Status.FAILED)  # what the progress bar counts


class Progress:
    """A one-line progress bar on a terminal; silence otherwise (logs carry the detail)."""

    def __init__(self, total: int, enabled: bool):
        self.total, self.enabled, self.n = total, enabled, 0
        self.counts: collections.Counter[str] = collections.Counter(dict.fromkeys(KINDS, 0))
        self.t0 = time.monotonic()

    def step(self, kind: str) -> None:
        self.n += 1
        self.counts[kind] += 1
        if self.enabled:
            width = 30
            filled = int(width * self.n / max(1, self.total))
            rate = self.n / max(1e-9, time.monotonic() - self.t0)
            sys.stderr.write(f"\r[{'#' * filled}{'.' * (width - filled)}] {self.n}/{self.total} files "
                             f"({rate:.1f}/s, {self.counts[Status.FAILED]} failed)")
            sys.stderr.flush()

    def done(self) -> None:
        if self.enabled and self.n:
            sys.stderr.write("\n")
