"""Backfill: years of historical files through the same pool, in date order, resumable.

Files are loaded where they lie (a history tree is not an inbox: nothing is moved). The order
is the date in the file name (yyyymmdd or yyyy-mm-dd), else the file's mtime; files of one
table load one at a time in that order, tables in parallel. Run it again and every file
already loaded from the same path is skipped, so an interrupted backfill resumes.
"""

from __future__ import annotations

import collections
import datetime as dt
import logging
import os
import sys
import time
from dataclasses import dataclass, field

from .. import routes
from ..config import RouteSettings, Settings
from ..errors import EXIT_DATA, EXIT_OK, BadInputError
from . import folders
from .pool import Finished, InlinePool, ProcessPool
from .supervise import backoff
from .work import Job

log = logging.getLogger("loader.backfill")


@dataclass(order=True)
class Entry:
    when: dt.datetime
    path: str
    dest: routes.Destination = field(compare=False)
    attempt: int = field(default=0, compare=False)
    not_before: float = field(default=0.0, compare=False)


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


def backfill(settings: Settings, dirs: list[str], route: RouteSettings, progress: bool | None = None) -> int:
    entries, refused = collect(dirs, route, settings.schemas.ref)
    for why in refused:
        log.error("refused %s", why)
    queues: dict[tuple[str, str], collections.deque[Entry]] = collections.OrderedDict()
    for e in entries:
        queues.setdefault((e.dest.schema, e.dest.table), collections.deque()).append(e)
    svc = settings.service
    pool: ProcessPool | InlinePool = InlinePool() if svc.workers == 1 else ProcessPool(svc.workers)
    bar = Progress(len(entries), sys.stderr.isatty() if progress is None else progress)
    running: dict[str, tuple[tuple[str, str], Entry]] = {}
    db_wait_until = 0.0
    try:
        while any(queues.values()) or running:
            now = time.monotonic()
            for key, q in queues.items():
                worker = pool.idle()
                if worker is None or now < db_wait_until:
                    break
                if not q or key in {k for k, _ in running.values()} or q[0].not_before > now:
                    continue
                e = q.popleft()
                job = Job(e.path, os.path.dirname(e.path), route.name, e.dest.schema, e.dest.table, e.dest.mode,
                          settings, attempt=e.attempt, last_try=e.attempt >= svc.retry_max, in_place=True,
                          bad_rows=route.bad_rows, max_rejects=route.max_rejects)
                running[e.path] = (key, e)
                pool.submit(worker, job)
            for f in pool.wait(0.1) if pool.busy() else []:
                db_wait_until = _finished(f, running, queues, bar, svc.retry_base_s, svc.retry_cap_s, db_wait_until)
            if not pool.busy():
                time.sleep(0.05)
    finally:
        pool.close()
        bar.done()
    failed = bar.counts["failed"] + len(refused)
    print(f"backfill: {bar.counts['loaded']} loaded, {bar.counts['skipped']} already loaded, "
          f"{bar.counts['duplicate']} duplicate, {failed} failed", file=sys.stderr)
    return EXIT_OK if failed == 0 else EXIT_DATA


def _finished(f: Finished, running: dict[str, tuple[tuple[str, str], Entry]],
              queues: dict[tuple[str, str], collections.deque[Entry]], bar: Progress, base: float, cap: float,
              db_wait_until: float) -> float:
    key, e = running.pop(f.job.path)
    out = f.outcome
    action = out.action if out else "retry"
    if action in ("retry", "unavailable"):
        e.attempt += action == "retry"
        e.not_before = time.monotonic() + backoff(max(1, e.attempt), base, cap)
        queues[key].appendleft(e)
        log.warning("retrying %s: %s", e.path, (out.reason if out else f.reason))
        return e.not_before if action == "unavailable" else db_wait_until
    status = out.result.status if out and out.result else action
    if action == "failed":
        log.error("failed %s: %s", e.path, out.reason if out else f.reason)
    bar.step("failed" if action == "failed" else status if status in ("loaded", "duplicate") else "skipped")
    return db_wait_until


class Progress:
    """A one-line progress bar on a terminal; silence otherwise (logs carry the detail)."""

    def __init__(self, total: int, enabled: bool):
        self.total, self.enabled, self.n = total, enabled, 0
        self.counts = collections.Counter({"loaded": 0, "skipped": 0, "duplicate": 0, "failed": 0})
        self.t0 = time.monotonic()

    def step(self, kind: str) -> None:
        self.n += 1
        self.counts[kind] += 1
        if self.enabled:
            width = 30
            filled = int(width * self.n / max(1, self.total))
            rate = self.n / max(1e-9, time.monotonic() - self.t0)
            sys.stderr.write(f"\r[{'#' * filled}{'.' * (width - filled)}] {self.n}/{self.total} files "
                             f"({rate:.1f}/s, {self.counts['failed']} failed)")
            sys.stderr.flush()

    def done(self) -> None:
        if self.enabled and self.n:
            sys.stderr.write("\n")
