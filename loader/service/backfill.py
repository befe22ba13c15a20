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
from ..config import RouteSettings, Settings, route_load
from ..errors import EXIT_DATA, EXIT_OK, BadInputError
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


def backfill(settings: Settings, dirs: list[str], route: RouteSettings, progress: bool | None = None,
             as_json: bool = False) -> int:
    """as_json: the summary as one JSON object on stdout (scripts), instead of a line on stderr."""
    entries, refused = collect(dirs, route, settings.schemas.ref)
    for why in refused:
        log.error("refused %s", why)
    svc = settings.service
    sched: Scheduler[Entry] = Scheduler(RetryPolicy(svc.retry_max, svc.retry_base_s, svc.retry_cap_s))
    for n, e in enumerate(entries):  # arrival = date order: the oldest head of any table goes first
        sched.add((e.dest.schema, e.dest.table), e, float(n))
    pool: ProcessPool | InlinePool = InlinePool() if svc.workers == 1 else ProcessPool(svc.workers)
    bar = Progress(len(entries), sys.stderr.isatty() if progress is None else progress)
    try:
        while not sched.idle():
            _dispatch(sched, pool, settings, route)
            for f in pool.wait(0.1) if pool.busy() else []:
                _finished(f, sched, bar)
            if not pool.busy():
                time.sleep(0.05)  # everything waits for a backoff or the database
    finally:
        pool.close()
        bar.done()
    failed = bar.counts[Status.FAILED] + len(refused)
    code = EXIT_OK if failed == 0 else EXIT_DATA
    if as_json:
        print(json.dumps({"files": len(entries) + len(refused), "loaded": bar.counts[Status.LOADED],
                          "already_loaded": bar.counts[Action.SKIPPED], "duplicate": bar.counts[Status.DUPLICATE],
                          "failed": failed, "exit_code": code}))
    else:
        print(f"backfill: {bar.counts[Status.LOADED]} loaded, {bar.counts[Action.SKIPPED]} already loaded, "
              f"{bar.counts[Status.DUPLICATE]} duplicate, {failed} failed", file=sys.stderr)
    return code


def _dispatch(sched: Scheduler[Entry], pool: ProcessPool | InlinePool, settings: Settings,
              route: RouteSettings) -> None:
    while (worker := pool.idle()) is not None and (item := sched.take(time.monotonic())) is not None:
        e = item.payload
        pool.submit(worker, Job(e.path, os.path.dirname(e.path), route.name, e.dest.schema, e.dest.table,
                                e.dest.mode, settings, attempt=item.attempt, last_try=sched.last_try(item),
                                in_place=True, load=route_load(route), read=read_pins(route)))
        if isinstance(pool, InlinePool):
            return  # inline: run it now, then look again


def _finished(f: Finished, sched: Scheduler[Entry], bar: Progress) -> None:
    item = sched.running_item(f.job.key)
    out = f.outcome
    reason = (out.reason if out else None) or f.reason
    step, delay = sched.settle(item, out.action if out else None, time.monotonic())
    if step in (Step.RETRY, Step.PAUSED):
        log.warning("retrying %s in %.1fs: %s", item.payload.path, delay, reason)
    elif step is Step.GIVE_UP or (out is not None and out.action == Action.FAILED):
        log.error("failed %s: %s", item.payload.path, reason)
        bar.step(Status.FAILED)
    else:
        status = out.result.status if out and out.result else None
        bar.step(Status(status) if status in DONE else Action.SKIPPED)


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
