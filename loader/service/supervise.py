"""The service: watch the routes' inboxes, claim settled files, load them in a pool, move them on.

One loop in the supervisor process: scan (polling always, events wake it sooner) -> stability
check -> per-table queues in arrival order -> claim by rename and dispatch while a worker is free
and the memory budget allows -> outcomes: archive / failed / retry with backoff. Files of one
table load one at a time, in order; other tables in parallel. The database going away pauses
dispatch (files wait, the loop keeps running and probing) until it answers again.
"""

from __future__ import annotations

import collections
import contextlib
import dataclasses
import datetime as dt
import logging
import os
import random
import signal
import socket
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psutil

from .. import routes
from ..config import RouteSettings, Settings
from ..errors import EXIT_UNAVAILABLE, BadInputError, LoaderError
from ..logs import fields
from ..targets import open_target
from . import folders, watch
from .pool import Finished, InlinePool, ProcessPool
from .work import Job, Outcome, error_details, fail_claim, route_settings

log = logging.getLogger("loader.service")
# A streaming load's growth over an idle worker (measured: 150-210 MB peak RSS with 1 MiB blocks,
# `python -m bench memory`):
# what the governor reserves before starting one more file.
LOAD_ESTIMATE_MB = 200
TICK_S = 0.1  # longest sleep of the loop: bounds the reaction time to events, results and signals
GOVERNOR_EVERY_S = 0.5  # how often worker memory is measured (psutil is cheap, but not free)


_RECOVERY_WINDOW = 1000  # recent tracking rows whose leftover staging is dropped at start


@dataclass
class Item:
    """A file on its way: in inbox/ until claimed, then processing/<claim>/<name>."""

    route: RouteSettings
    name: str
    dest: routes.Destination
    arrival: float
    claimed: Path | None = None
    attempt: int = 0
    not_before: float = 0.0
    recovered: bool = False


@dataclass
class Stats:
    loaded: int = 0
    failed: int = 0
    duplicate: int = 0
    rows: int = 0
    started: float = field(default_factory=time.monotonic)
    load_starts: list[float] = field(default_factory=list)  # latency probe: monotonic dispatch times


class Supervisor:
    def __init__(self, settings: Settings, route_list: list[RouteSettings], once: bool = False):
        if not route_list:
            raise LoaderError("no routes: give --root DIR or [[routes]] in the config file")
        self.settings, self.routes, self.once = settings, route_list, once
        svc = settings.service
        self.stability = watch.Stability(svc.stable_s)
        self.queues: dict[tuple[str, str], collections.deque[Item]] = {}
        self.known: set[str] = set()  # inbox paths already queued
        self.running: dict[tuple[str, str], Item] = {}
        self.stats = Stats()
        self.wake = threading.Event()
        self.stop_requested = 0  # 1: drain, 2: abort
        self.stop_deadline = 0.0
        self.db_down_until = 0.0
        self.db_failures = 0
        self.next_poll = 0.0
        self.next_governor = 0.0
        total = psutil.virtual_memory().total >> 20
        self.budget_mb = svc.memory_mb or total // 2
        self.worker_mb = svc.worker_memory_mb or max(LOAD_ESTIMATE_MB, self.budget_mb // svc.workers)
        self.pool: ProcessPool | InlinePool = (
            InlinePool() if svc.workers == 1 else ProcessPool(svc.workers, logging.getLogger().level, _json_logs()))
        self.events: watch.EventWaker | None = None

    # -- lifecycle ------------------------------------------------------------------------
    def run(self) -> int:
        self._install_signals()
        for r in self.routes:
            folders.ensure_layout(r.root)
        inboxes = [os.path.join(r.root, folders.INBOX) for r in self.routes]
        if self.settings.service.events and not self.once:
            self.events = watch.EventWaker(inboxes, self.wake)
            self.events.start()
        log.info("loader service started: %d route(s), %d worker(s), poll %.1fs, stable %.1fs, memory budget %d MB",
                 len(self.routes), self.settings.service.workers, self.settings.service.poll_s,
                 self.settings.service.stable_s, self.budget_mb,
                 extra=fields(stage="start", roots=[r.root for r in self.routes], pid=os.getpid()))
        try:
            self._recover()
            return self._loop()
        except KeyboardInterrupt:  # second signal during an inline load (workers = 1)
            return self._abort()
        finally:
            if self.events is not None:
                self.events.stop()
            self.pool.close()

    def _install_signals(self) -> None:
        if threading.current_thread() is not threading.main_thread():
            return
        for sig in (signal.SIGTERM, signal.SIGINT):
            signal.signal(sig, self._on_signal)

    def _on_signal(self, signum: int, _frame: Any) -> None:
        self.stop_requested += 1
        if self.stop_requested == 1:
            self.stop_deadline = time.monotonic() + self.settings.service.stop_timeout_s
        self.wake.set()
        if self.stop_requested >= 2 and isinstance(self.pool, InlinePool) and self.pool.busy():
            raise KeyboardInterrupt  # the inline load unwinds: its transaction rolls back

    def _loop(self) -> int:
        while True:
            try:
                code = self._step()
            except LoaderError as e:  # e.g. a folder that vanished or a full disk: log, wait, go on
                log.error("service loop: %s", e, extra=fields(stage="error"))
                code = None
                time.sleep(1)
            except (OSError, ValueError, RuntimeError) as e:
                log.exception("service loop: unexpected %s; carrying on", type(e).__name__,
                              extra=fields(stage="error"))
                code = None
                time.sleep(1)
            if code is not None:
                return code

    def _step(self) -> int | None:
        """One turn of the loop; an exit code when the service should stop."""
        now = time.monotonic()
        if self.stop_requested >= 2 or (self.stop_requested and now >= self.stop_deadline):
            return self._abort()
        if self.stop_requested and not self.running:
            log.info("stopped: no load running", extra=fields(stage="stop", **self._counts()))
            return 0
        scanned = False
        if not self.stop_requested and (self.wake.is_set() or now >= self.next_poll or self._settling(now)):
            self.wake.clear()
            self._scan(now)
            scanned = True
        if not self.stop_requested:
            self._dispatch(time.monotonic())
        if self.once and self.db_failures and not self.running:
            log.error("database unavailable (--once): the files wait for the next run", extra=fields(stage="stop"))
            return EXIT_UNAVAILABLE
        if self.once and scanned and not self.running and not self._pending():
            log.info("nothing left to load (--once)", extra=fields(stage="done", **self._counts()))
            return 0
        self._govern(time.monotonic())
        if self.pool.busy():
            for finished in self.pool.wait(TICK_S):
                self._finish(finished)
        else:
            self.wake.wait(TICK_S)
        return None

    def _settling(self, now: float) -> bool:
        wait = self.stability.next_ready_in(now)
        return wait is not None and wait <= 0

    def _pending(self) -> bool:
        return any(self.queues.values()) or bool(self.stability.seen)

    # -- noticing and queueing ----------------------------------------------------------------
    def _scan(self, now: float) -> None:
        self.next_poll = now + self.settings.service.poll_s
        entries, by_path = [], {}
        for route in self.routes:
            for name, path, size, mtime_ns in watch.scan(os.path.join(route.root, folders.INBOX)):
                if path in self.known or not routes.wants(route, name):
                    continue
                entries.append((path, size, mtime_ns))
                by_path[path] = (route, name)
        for path in self.stability.observe(entries, now, time.time_ns()):
            route, name = by_path[path]
            self.stability.forget(path)
            self._enqueue(route, name, now)

    def _enqueue(self, route: RouteSettings, name: str, now: float, claimed: Path | None = None) -> None:
        try:
            dest = routes.destination(route, name, self.settings.schemas.ref)
        except BadInputError as e:
            self._reject(route, name, claimed, str(e))
            return
        item = Item(route, name, dest, now, claimed, recovered=claimed is not None)
        if claimed is None:
            self.known.add(os.path.join(route.root, folders.INBOX, name))
        self.queues.setdefault((dest.schema, dest.table), collections.deque()).append(item)

    def _reject(self, route: RouteSettings, name: str, claimed: Path | None, reason: str) -> None:
        """A file that cannot even be routed still goes to failed/ with its reason, never stays unseen."""
        path = claimed or folders.claim(route.root, name)
        if path is None:
            return
        job = Job(str(path), route.root, route.name, route.schema or self.settings.schemas.ref, "", route.mode,
                  self.settings)
        dst = folders.fail(route.root, path, error_details(job, name, None, reason))
        self.stats.failed += 1
        log.error("failed %s: %s", name, reason, extra=fields(file=name, stage="failed", moved_to=str(dst)))

    # -- recovery --------------------------------------------------------------------------------
    def _recover(self) -> None:
        """Files left in processing/ go back to work first, in claim order; dead loads are failed."""
        self._reconcile_dead_loads()
        now = time.monotonic()
        for route in self.routes:
            for path in folders.claimed(route.root):
                log.info("recovering %s (claimed before a stop or crash)", path,
                         extra=fields(file=path.name, stage="recover"))
                self._enqueue(route, path.name, now, claimed=path)

    def _reconcile_dead_loads(self) -> None:
        host = socket.gethostname()
        try:
            target = open_target(self.settings)
        except LoaderError as e:
            log.warning("database unavailable at start (%s); recovery of tracking rows happens per file", e)
            return
        try:
            target.ensure_ready()
            for row in target.tracker.unfinished_loads():
                if row["host"] != host or _alive(row):
                    continue
                load_id = str(row["load_id"])
                target.tracker.mark_interrupted(
                    load_id, f"interrupted: process {row['pid']} on {host} died during the load")
                dropped = target.drop_leftover_stages(self.settings.schemas.stage, [load_id])
                log.warning("load %s of %s was interrupted by a crash: marked failed, dropped %s", load_id,
                            row["file_name"], dropped or "no staging table",
                            extra=fields(load_id=load_id, file=row["file_name"], stage="recover"))
            # staging left by loads that are over (a crash between publish and cleanup) is garbage
            finished = [str(r["load_id"]) for r in target.tracker.recent_loads(_RECOVERY_WINDOW)
                        if r["status"] != "loading"]
            for stage in target.drop_leftover_stages(self.settings.schemas.stage, finished):
                log.warning("dropped staging %s left by a finished load", stage, extra=fields(stage="recover"))
        except LoaderError as e:
            log.warning("could not reconcile the tracking table: %s", e)
        finally:
            with contextlib.suppress(Exception):
                target.close()

    # -- dispatch --------------------------------------------------------------------------------
    def _dispatch(self, now: float) -> None:
        if now < self.db_down_until:
            return
        order = sorted((q[0].arrival, key) for key, q in self.queues.items() if q and key not in self.running)
        for _, key in order:
            item = self.queues[key][0]
            if item.not_before > now:
                continue  # the head waits for its retry; later files of the table wait behind it
            worker = self.pool.idle()
            if worker is None or not self._memory_allows():
                return
            self.queues[key].popleft()
            if item.claimed is None:
                self.known.discard(os.path.join(item.route.root, folders.INBOX, item.name))
                item.claimed = folders.claim(item.route.root, item.name)
                if item.claimed is None:
                    continue  # gone before we got to it
            self.running[key] = item
            self.stats.load_starts.append(time.monotonic())
            log.debug("start %s -> %s.%s (%s)", item.name, item.dest.schema, item.dest.table, item.dest.mode,
                      extra=fields(file=item.name, table=f"{item.dest.schema}.{item.dest.table}", stage="start"))
            self.pool.submit(worker, self._job(item))
            if isinstance(self.pool, InlinePool):
                return  # inline: run it now, then look again

    def _job(self, item: Item) -> Job:
        svc = self.settings.service
        return Job(str(item.claimed), item.route.root, item.route.name, item.dest.schema, item.dest.table,
                   item.dest.mode, self.settings, attempt=item.attempt, last_try=item.attempt >= svc.retry_max,
                   recovered=item.recovered, bad_rows=item.route.bad_rows, max_rejects=item.route.max_rejects)

    # -- memory governor -------------------------------------------------------------------------
    def _memory_allows(self) -> bool:
        if not self.running:
            return True  # one file always runs, or nothing would ever load
        return self._rss_mb() + LOAD_ESTIMATE_MB <= self.budget_mb

    def _rss_mb(self) -> float:
        total = 0
        for pid in [os.getpid(), *self.pool.pids()]:
            with contextlib.suppress(psutil.Error):
                total += psutil.Process(pid).memory_info().rss
        return total / (1 << 20)

    def _govern(self, now: float) -> None:
        if now < self.next_governor or not isinstance(self.pool, ProcessPool):
            return
        self.next_governor = now + GOVERNOR_EVERY_S
        for w in self.pool.busy():
            with contextlib.suppress(psutil.Error):
                rss = psutil.Process(w.pid).memory_info().rss >> 20
                if rss > self.worker_mb and w.killed_for is None:
                    self.pool.kill(w, f"worker exceeded its memory share: {rss} MB RSS > {self.worker_mb} MB "
                                      "(service.worker_memory_mb)")

    # -- outcomes ---------------------------------------------------------------------------------
    def _finish(self, f: Finished) -> None:
        key = next(k for k, it in self.running.items() if str(it.claimed) == f.job.path)
        item = self.running.pop(key)
        out = f.outcome
        if out is None:
            self._retry_or_fail(key, item, f.reason or "the worker died")
            return
        if out.action in ("archived", "failed", "gone", "skipped"):
            self._count(item, out)
            if self.once:
                self.wake.set()  # look once more now rather than at the next poll
            return
        if out.action == "unavailable":
            self._database_down(out.reason or "database unavailable")
            item.recovered = True
            self.queues[key].appendleft(item)
            return
        if out.action == "busy":
            item.not_before, item.recovered = time.monotonic() + 1.0, True
            self.queues[key].appendleft(item)
            return
        self._retry_or_fail(key, item, out.reason or "transient failure")

    def _retry_or_fail(self, key: tuple[str, str], item: Item, reason: str) -> None:
        svc = self.settings.service
        item.attempt += 1
        item.recovered = True
        if item.attempt > svc.retry_max and item.claimed is not None and item.claimed.exists():
            out = fail_claim(dataclasses.replace(self._job(item), attempt=item.attempt - 1), reason)
            if out.action != "busy":
                self._count(item, out)
                return
        delay = backoff(item.attempt, svc.retry_base_s, svc.retry_cap_s)
        item.not_before = time.monotonic() + delay
        log.warning("retrying %s in %.1fs (attempt %d): %s", item.name, delay, item.attempt + 1, reason,
                    extra=fields(file=item.name, stage="retry"))
        self.queues.setdefault(key, collections.deque()).appendleft(item)

    def _database_down(self, reason: str) -> None:
        svc = self.settings.service
        self.db_failures += 1
        delay = backoff(self.db_failures, svc.retry_base_s, svc.retry_cap_s)
        self.db_down_until = time.monotonic() + delay
        waiting = sum(len(q) for q in self.queues.values()) + 1
        log.warning("database unavailable: %s; %d file(s) waiting, next try in %.1fs", reason, waiting, delay,
                    extra=fields(stage="db_down", waiting=waiting))

    def _count(self, item: Item, out: Outcome) -> None:
        r = out.result
        status = r.status if r is not None else out.action
        if out.action in ("archived",) and r is not None:
            self.db_failures = 0
            self.stats.rows += r.rows_loaded
            if r.status == "duplicate":
                self.stats.duplicate += 1
            else:
                self.stats.loaded += 1
        elif out.action == "archived":
            self.stats.loaded += 0  # recovered: loaded before the crash, counted then
        elif out.action == "failed":
            self.stats.failed += 1
        level = logging.ERROR if out.action == "failed" else logging.INFO
        log.log(level, "%s %s%s", status, item.name, f": {out.reason}" if out.reason else "",
                extra=fields(file=item.name, table=f"{item.dest.schema}.{item.dest.table}", stage=status,
                             load_id=r.load_id if r else None, rows=r.rows_loaded if r else None,
                             rejects=r.rows_rejected if r else None,
                             duration_ms=round(r.seconds * 1000) if r else None, moved_to=out.moved_to,
                             worker=out.pid))

    def _counts(self) -> dict[str, int]:
        return {"loaded": self.stats.loaded, "failed": self.stats.failed, "duplicate": self.stats.duplicate,
                "rows": self.stats.rows}

    # -- abort --------------------------------------------------------------------------------------
    def _abort(self) -> int:
        """Second signal or stop timeout: kill the loads (their transactions roll back), files go back."""
        running = list(self.running.values())
        log.warning("aborting %d running load(s)", len(running), extra=fields(stage="abort"))
        if isinstance(self.pool, ProcessPool):
            busy = self.pool.busy()
            for w in busy:
                self.pool.kill(w, "aborted by a second signal")
            for w in busy:
                w.proc.join(timeout=10)
        for item in running:
            if item.claimed is not None and item.claimed.exists():
                self._give_back(item)
        self.running.clear()
        return 75

    def _give_back(self, item: Item) -> None:
        """A killed load either committed (archive) or not (back to inbox/); unknown: stays for recovery."""
        assert item.claimed is not None
        try:
            target = open_target(route_settings(self.settings, item.dest.schema))
            try:
                done = [r for r in target.tracker.loads_of_file(str(item.claimed))
                        if r["status"] in ("loaded", "duplicate")]
            finally:
                target.close()
        except LoaderError as e:
            log.warning("%s stays in processing/ until the next start (%s)", item.claimed, e)
            return
        if done:
            folders.archive(item.route.root, item.claimed, dt.datetime.now(dt.UTC).date())
        else:
            folders.unclaim(item.route.root, item.claimed)


def _json_logs() -> bool:
    from ..logs import JsonFormatter

    return any(isinstance(h.formatter, JsonFormatter) for h in logging.getLogger().handlers)


def backoff(attempt: int, base_s: float, cap_s: float) -> float:
    """Exponential with full jitter in [0.5, 1.5): many workers retrying never march in step."""
    return min(cap_s, base_s * (2 ** max(0, attempt - 1))) * (0.5 + random.random())


def _alive(row: dict[str, object]) -> bool:
    """Is the process that wrote a 'loading' row still running (and not a later one with its pid)?"""
    try:
        pid = int(str(row["pid"]))
        proc = psutil.Process(pid)
        started = row["started_at"]
        if isinstance(started, str):
            started = dt.datetime.fromisoformat(started)
        if isinstance(started, dt.datetime):
            return proc.create_time() <= started.replace(tzinfo=dt.UTC).timestamp() + 1
        return True
    except (psutil.Error, ValueError, TypeError):
        return False


def settings_with(settings: Settings, **service: Any) -> Settings:
    return dataclasses.replace(settings, service=dataclasses.replace(settings.service, **service))
