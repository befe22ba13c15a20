"""The service: watch the routes' inboxes, claim settled files, load them in a pool, move them on.

One loop in the supervisor process: scan (polling always, events wake it sooner) -> stability
check -> the scheduler's per-table queues -> claim by rename and dispatch while a worker is free
and the memory budget allows -> outcomes: archive / failed / retry with backoff. This module is
the loop, the signals and the lifecycle; the decisions live in scheduler, governor and recovery.

Stopping: the first SIGTERM/SIGINT drains (nothing new starts, running loads finish, exit 0). A
second signal or the stop timeout aborts the loads still running (their transactions roll back,
their files go back to inbox/) and exits 75 — unless nothing was left to abort: then the drain
completed and the exit is 0, whichever signal came last.
"""

from __future__ import annotations

import dataclasses
import logging
import os
import signal
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, cast

from .. import interrupts, routes
from ..coltypes import Action
from ..config import RouteSettings, Settings, route_load, route_mapping
from ..errors import EXIT_CONFIG, EXIT_OK, EXIT_TEMPFAIL, EXIT_UNAVAILABLE, BadInputError, LoaderError, WorkerStartError
from ..logs import fields, json_logs
from ..route_read import read_pins
from . import claim, folders, recovery, watch
from .governor import Governor
from .hosts import Hosts
from .lease import leases_for, single_service
from .live import Live
from .pool import Finished, InlinePool, ProcessPool
from .scheduler import Item, RetryPolicy, Scheduler, Step
from .sources import Pull, PullJob, SourceTimer, last_starts, pull_item, wall_now
from .tally import Tally
from .uploads import Registry
from .work import Job, Outcome, error_details, fail_claim, route_settings

log = logging.getLogger("loader.service")
TICK_S = 0.1  # longest sleep of the loop: bounds the reaction time to results and the stop timeout
# An inbox file that cannot be claimed (immutable, a read-only share) is tried again this often: an
# operator's fix is noticed within a minute, and the log gets one line per file, not one per scan.
UNCLAIMABLE_RETRY_S = 60.0


@dataclass
class File:
    """A file on its way: in inbox/ until claimed, then processing/<claim>/<name>."""

    route: RouteSettings
    name: str
    dest: routes.Destination
    claimed: Path | None = None
    claim_id: str = ""  # the id of its claim folder, chosen before the lease is taken under it
    adopted: bool = False  # several hosts: another host's claim, found in processing/ without a live lease

    @property
    def table(self) -> str:
        return f"{self.dest.schema}.{self.dest.table}"


class Supervisor:
    def __init__(self, settings: Settings, route_list: list[RouteSettings], once: bool = False):
        if not route_list and not settings.sources:
            raise LoaderError("no routes: give --root DIR, [[routes]] or [[sources]] in the config file")
        self.settings, self.routes, self.once = settings, route_list, once
        svc = settings.service
        self.inbox = watch.Inbox(route_list, svc.stable_s, svc.poll_s)
        self.timer = SourceTimer(settings.sources, once)  # database sources due on their schedules
        self.sched: Scheduler[File | Pull] = Scheduler(RetryPolicy(svc.retry_max, svc.retry_base_s, svc.retry_cap_s))
        self.tally = Tally()
        self.governor = Governor.of(svc)
        self.wake = watch.Waker()
        self.stop_requested = 0  # 1: drain, 2: abort
        self.stop_code = EXIT_OK  # EXIT_CONFIG once a worker found the database settings wrong
        self.stop_deadline = 0.0
        self.pool: ProcessPool | InlinePool = (
            InlinePool() if svc.workers == 1 else ProcessPool(svc.workers, logging.getLogger().level, json_logs()))
        self.events: watch.EventWaker | None = None
        self.unclaimable: dict[str, float] = {}  # inbox path -> when to try to claim it again
        self.left_behind = 0  # --once: files that could not be claimed or failed: exit 75, not 0
        self.live = Live()  # what the HTTP thread may read, and systemd's notify protocol
        self.uploads = Registry(route_list)
        self.http: Any = None
        leases = leases_for(settings)  # several hosts share the drop folders (not on SQLite)
        self.hosts = Hosts(leases, settings, route_list, self.sched, self._enqueue) if leases is not None else None
        self.single: int | None = None  # SQLite: the lock file that keeps a second service off the database

    # -- lifecycle ------------------------------------------------------------------------
    def run(self) -> int:
        if self.hosts is None:
            self.single = single_service(self.settings.database.url)
        self._install_signals()
        for r in self.routes:
            folders.ensure_layout(r.root)
        self.uploads.recover()
        if self.settings.service.http:
            from .http import serve

            self.http = serve(self.settings, self.routes, self)
        if self.settings.service.events and not self.once and self.routes:
            self.events = watch.EventWaker([os.path.join(r.root, folders.INBOX) for r in self.routes], self.wake)
            self.events.start()
        svc = self.settings.service
        log.info("loader service started: %d route(s), %d worker(s), poll %.1fs, stable %.1fs, memory budget %d MB",
                 len(self.routes), svc.workers, svc.poll_s, svc.stable_s, self.governor.budget_mb,
                 extra=fields(stage="start", roots=[r.root for r in self.routes], pid=os.getpid()))
        try:
            self._recover()
            return self._loop()
        except KeyboardInterrupt:  # second signal during an inline load (workers = 1)
            return self._abort()
        finally:
            if self.http is not None:
                self.http.stop()
            if self.events is not None:
                self.events.stop()
            self.pool.close()
            self.wake.close()
            if self.hosts is not None:
                self.hosts.stop()
            if self.single is not None:
                os.close(self.single)
            self._ignore_late_signals()

    def _ignore_late_signals(self) -> None:
        """The outcome is decided: a signal arriving while the interpreter shuts down (which restores
        the default handlers) must not turn a completed drain's exit 0 into death by SIGINT."""
        if threading.current_thread() is threading.main_thread():
            for sig in (signal.SIGTERM, signal.SIGINT):
                signal.signal(sig, signal.SIG_IGN)

    def _install_signals(self) -> None:
        if threading.current_thread() is not threading.main_thread():
            return
        for sig in (signal.SIGTERM, signal.SIGINT):
            signal.signal(sig, self._on_signal)

    def _on_signal(self, signum: int, _frame: Any) -> None:
        """Runs on the main thread between two bytecodes: plain assignments and a pipe write, no lock."""
        self.stop_requested += 1
        if self.stop_requested == 1:
            self.stop_deadline = time.monotonic() + self.settings.service.stop_timeout_s
        self.wake.set()
        if self.stop_requested >= 2 and isinstance(self.pool, InlinePool) and self.pool.busy():
            interrupts.request()  # a driver error raised while this unwinds is the abort's, not the data's
            raise KeyboardInterrupt  # the inline load unwinds: its transaction rolls back

    def _recover(self) -> None:
        """Dead loads failed first, then the claimed files go back to work, in claim order."""
        recovery.reconcile_at_start(self.settings)
        self.timer.start(last_starts(self.settings), wall_now())  # a missed run runs once, now
        if self.hosts is not None:
            self.hosts.start(time.monotonic())
            return
        now = time.monotonic()
        for route, path in recovery.claimed_files(self.routes):
            self._enqueue(route, path.name, now, claimed=path)

    def _loop(self) -> int:
        while True:
            try:
                code = self._step()
            except WorkerStartError:
                raise  # no worker can start: carrying on would spawn them forever (exit 70)
            except LoaderError as e:  # e.g. a folder that vanished or a full disk: log, wait, go on
                log.error("service loop: %s", e, extra=fields(stage="error"))
                code = None
                self.wake.wait(1)
            except (OSError, ValueError, RuntimeError) as e:
                log.exception("service loop: unexpected %s; carrying on", type(e).__name__,
                              extra=fields(stage="error"))
                code = None
                self.wake.wait(1)
            if code is not None:
                return code

    def _step(self) -> int | None:
        """One turn of the loop; an exit code when the service should stop."""
        woken = self.wake.is_set()
        self.wake.clear()
        if self.stop_requested:
            code = self._stopping(time.monotonic())
            if code is not None:
                return code
        else:
            scanned = self.inbox.due(time.monotonic(), woken)
            if scanned:
                self.uploads.deliver_waiting()
                self._scan(time.monotonic())
                if self.hosts is not None:
                    self.hosts.adopt(time.monotonic())
                self.live.scanned()
            self._queue_sources(time.monotonic())
            self._dispatch(time.monotonic())
            code = self._once_done(scanned)
            if code is not None:
                return code
        self.live.turn(self, time.monotonic())
        if isinstance(self.pool, ProcessPool):
            self.governor.police(self.pool, time.monotonic())
        if self.pool.busy() or isinstance(self.pool, ProcessPool):  # idle workers that die are seen too
            for finished in self.pool.wait(TICK_S, self.wake):
                self._finish(finished)
        else:
            self.wake.wait(TICK_S)
        return None

    def _stopping(self, now: float) -> int | None:
        if self.live.ready:
            self.live.ready = False  # /readyz answers 503 while draining: send no new uploads here
            self.live.stopping()
            if self.sched.running:  # said once, at once: a silent drain looks like a hang
                log.warning("stopping: draining %d running load(s) for up to %.0fs; signal again to abort them",
                            len(self.sched.running), max(0.0, self.stop_deadline - now),
                            extra=fields(stage="drain"))
        if not self.sched.running:  # checked first: a second signal after the drain aborts nothing
            log.info("stopped: no load running", extra=fields(stage="stop", **self.tally.counts()))
            return self.stop_code
        if self.stop_requested >= 2 or now >= self.stop_deadline:
            return self._abort()
        return None

    def _once_done(self, scanned: bool) -> int | None:
        """--once: stop when the database is down, or when a scan found nothing left to load."""
        if not self.once or self.sched.running:
            return None
        if self.sched.db_failures:
            log.error("database unavailable (--once): the files wait for the next run", extra=fields(stage="stop"))
            return EXIT_UNAVAILABLE
        if scanned and not self.sched.waiting() and not self.inbox.settling():
            log.info("nothing left to load (--once)", extra=fields(stage="done", **self.tally.counts()))
            return EXIT_TEMPFAIL if self.left_behind else EXIT_OK
        return None

    # -- noticing and queueing ----------------------------------------------------------------
    def _scan(self, now: float) -> None:
        for path, when in list(self.unclaimable.items()):
            if now >= when:
                del self.unclaimable[path]
                self.inbox.known.discard(path)
        for route, name, path in self.inbox.scan(now):
            if self._enqueue(route, name, now):
                self.inbox.known.add(path)

    def _queue_sources(self, now: float) -> None:
        """Sources whose time has come join their table's queue, behind the files already in it."""
        for src in self.timer.due(wall_now()):
            item = pull_item(src, self.settings.schemas.ref)
            self.sched.add((item.dest.schema, item.dest.table), item, now)

    def _enqueue(self, route: RouteSettings, name: str, now: float, claimed: Path | None = None,
                 adopted: bool = False, first: bool = False) -> bool:
        try:
            dest = routes.destination(route, name, self.settings.schemas.ref)
        except BadInputError as e:
            self._reject(route, name, claimed, str(e))
            return False
        self.sched.add((dest.schema, dest.table), File(route, name, dest, claimed, adopted=adopted), now,
                       recovered=claimed is not None, first=first)
        return True

    def _reject(self, route: RouteSettings, name: str, claimed: Path | None, reason: str) -> None:
        """A file that cannot even be routed still goes to failed/ with its reason, never stays unseen."""
        path = claimed or self._try_claim(route, name)
        if path is None:
            return
        job = Job(str(path), route.root, route.name, route.schema or self.settings.schemas.ref, "", route.mode,
                  self.settings)
        dst = folders.fail(route.root, path, error_details(job, name, None, reason))
        self.tally.failed += 1
        self.live.outcome(route.name, "", Outcome(str(dst), Action.FAILED, moved_to=str(dst), reason=reason))
        log.error("failed %s: %s", name, reason, extra=fields(file=name, stage=Action.FAILED, moved_to=str(dst)))

    # -- dispatch --------------------------------------------------------------------------------
    def _dispatch(self, now: float) -> None:
        while True:
            worker = self.pool.idle()
            if worker is None or not self.governor.allows(self.pool.pids(), len(self.sched.running)):
                return
            item = self.sched.take(now)
            if item is None:
                return
            if not self._claimed(item):
                continue
            log.debug("start %s -> %s (%s)", item.payload.name, item.payload.table, item.payload.dest.mode,
                      extra=fields(file=item.payload.name, table=item.payload.table, stage="start"))
            self.pool.submit(worker, self._work(item))
            if isinstance(self.pool, InlinePool):
                return  # inline: run it now, then look again

    def _claimed(self, item: Item[File | Pull]) -> bool:
        """_claim, and a taken item never left stranded: on any error it goes back to the head of its
        queue (a 'running' item that never runs would block its table for good, on every host)."""
        try:
            return self._claim(item)
        except BaseException:
            if item.key in self.sched.running and self.sched.running[item.key] is item:
                self.sched.defer(item, time.monotonic())
                self._release(item)
            raise

    def _claim(self, item: Item[File | Pull]) -> bool:
        f = item.payload
        if self.hosts is not None and not self.hosts.lease(item):
            return False
        if isinstance(f, Pull):  # nothing to claim: the table's queue already serialises it
            f.started = f.started or wall_now()
            return True
        if f.adopted:  # its owner may have finished it between our look at the claims and at processing/
            if not os.path.lexists(f.claimed):  # type: ignore[arg-type]
                self.sched.discard(item)
                self._release(item)
                return False
            log.info("taking over %s (its host stopped renewing the claim)", f.claimed,
                     extra=fields(file=f.name, stage="recover"))
            f.adopted = False
        if f.claimed is None:
            if self.hosts is not None and self.hosts.older_first(item):
                return False
            self.inbox.known.discard(os.path.join(f.route.root, folders.INBOX, f.name))
            f.claimed = self._try_claim(f.route, f.name, f.claim_id or None)
            if f.claimed is None:  # gone before we got to it (another host's), or it cannot be claimed
                self.sched.discard(item)
                self._release(item)
                return False
            f.claimed = self.uploads.adopt(f.claimed)  # an upload's claim folder carries its id
            if self.hosts is not None and f.claimed.parent.name != f.claim_id:
                self.hosts.lease(item)  # the same lease, under the upload's folder name
        return True

    def _release(self, item: Item[File | Pull]) -> None:
        if self.hosts is not None:
            self.hosts.release(item)

    def _try_claim(self, route: RouteSettings, name: str, cid: str | None = None) -> Path | None:
        """The claim, or None: gone, or refused — then said once, and left alone for a while."""
        try:
            return claim.claim(route.root, name, cid)
        except claim.ClaimError as e:
            path = os.path.join(route.root, folders.INBOX, name)
            self.unclaimable[path] = time.monotonic() + UNCLAIMABLE_RETRY_S
            self.inbox.known.add(path)  # the scans skip it until it is tried again
            self.left_behind += 1
            log.error("cannot claim %s: %s; it stays in inbox/, tried again in %.0fs", path, e, UNCLAIMABLE_RETRY_S,
                      extra=fields(file=name, stage="claim"))
            return None

    def _work(self, item: Item[File | Pull]) -> Job:
        """A file's Job, or a source's PullJob: the pool only needs .key and work.process to run it."""
        f = item.payload
        if isinstance(f, Pull):
            return cast(Job, PullJob(f.source, f.dest.schema, f.dest.table, self.settings, attempt=item.attempt,
                                     last_try=self.sched.last_try(item)))
        return self._job(item)

    def _job(self, item: Item[File | Pull]) -> Job:
        f = cast(File, item.payload)
        lease = self.hosts.lease_of(f.table) if self.hosts is not None else None
        return Job(str(f.claimed), f.route.root, f.route.name, f.dest.schema, f.dest.table, f.dest.mode,
                   self.settings, attempt=item.attempt, last_try=self.sched.last_try(item),
                   recovered=item.recovered, load=route_load(f.route), read=read_pins(f.route),
                   mapping=route_mapping(f.route), lease=lease)

    # -- outcomes ---------------------------------------------------------------------------------
    def _finish(self, done: Finished) -> None:
        item = self.sched.running_item(done.job.key)
        out = done.outcome
        step, delay = self.sched.settle(item, out.action if out else None, time.monotonic())
        try:
            self._finished(item, out, step, delay, (out.reason if out else None) or done.reason or "transient failure")
        finally:
            if not self.sched.queued(item):  # done with (not a retry): the table is free for every host
                self._release(item)

    def _finished(self, item: Item[File | Pull], out: Outcome | None, step: Step, delay: float, reason: str) -> None:
        f = item.payload
        if out is not None and out.action == Action.LOST:
            log.warning("%s: %s", f.name, reason, extra=fields(file=f.name, stage="lost"))
        elif isinstance(f, Pull) and step in (Step.DONE, Step.GIVE_UP):
            self._pull_done(f, out, reason)
        elif step is Step.DONE and out is not None:
            self._count(f, out)
            if self.once:
                self.wake.set()  # look once more now rather than at the next poll
        elif step is Step.PAUSED:
            waiting = self.sched.waiting()
            log.warning("database unavailable: %s; %d file(s) waiting, next try in %.1fs", reason, waiting, delay,
                        extra=fields(stage="db_down", waiting=waiting))
        elif step is Step.RETRY and not (out and out.action == Action.BUSY):
            self._log_retry(item, delay, reason)
        elif step is Step.GIVE_UP:
            self._give_up(item, reason)
        elif step is Step.STOP:
            self._config_stop(reason)

    def _config_stop(self, reason: str) -> None:
        """Wrong database settings fail every file alike: none goes to failed/, the loads drain, exit 78."""
        if self.stop_code != EXIT_CONFIG:
            log.error("stopping: the database settings are wrong (%s); fix them and start again", reason,
                      extra=fields(stage="stop"))
        self.stop_code = EXIT_CONFIG
        if not self.stop_requested:
            self.stop_requested = 1
            self.stop_deadline = time.monotonic() + self.settings.service.stop_timeout_s

    def _pull_done(self, f: Pull, out: Outcome | None, reason: str) -> None:
        """A source's run ended (or its retries did): book it and schedule the next run."""
        self._count(f, out or Outcome(f.name, Action.FAILED, reason=reason))
        self.timer.done(f.source, f.started, wall_now())
        f.started = None
        if self.once:
            self.wake.set()

    def _give_up(self, item: Item[File | Pull], reason: str) -> None:
        """Attempts exhausted: fail the claim (or archive it, if its load did commit before dying)."""
        f = item.payload
        if f.claimed is not None and os.path.lexists(f.claimed):
            out = fail_claim(dataclasses.replace(self._job(item), attempt=item.attempt - 1), reason)
            if out.action == Action.RETRY and self.once:  # failed/ cannot be written (a full disk)
                self.left_behind += 1
                log.error("%s stays in processing/ until the next run: %s", f.claimed, out.reason,
                          extra=fields(file=f.name, stage=Action.RETRY))
                return
            if out.action not in (Action.BUSY, Action.RETRY, Action.UNAVAILABLE):
                self._count(f, out)
                return
            reason = out.reason or reason
        self._log_retry(item, self.sched.retry_later(item, time.monotonic()), reason)

    def _count(self, f: File | Pull, out: Outcome) -> None:
        """Book and log a file's (or a source run's) end; the metrics count it under its route (or source)."""
        self.tally.count(f.name, f.table, out)
        self.live.outcome(f.route.name if isinstance(f, File) else f.name, f.table, out)

    def _log_retry(self, item: Item[File | Pull], delay: float, reason: str) -> None:
        log.warning("retrying %s in %.1fs (attempt %d): %s", item.payload.name, delay, item.attempt + 1, reason,
                    extra=fields(file=item.payload.name, stage=Action.RETRY))

    # -- abort --------------------------------------------------------------------------------------
    def _abort(self) -> int:
        """Second signal or stop timeout: kill the loads (their transactions roll back), files go back.

        Results already sent are booked first: a load that finished is not aborted. Exit 75 only
        when a load was actually cut short; with nothing left to abort the drain completed (0).
        """
        for finished in self.pool.finished():
            self._finish(finished)
        running = list(self.sched.running.values())
        log.warning("aborting %d running load(s)", len(running), extra=fields(stage="abort"))
        if isinstance(self.pool, ProcessPool):
            busy = self.pool.busy()
            for w in busy:
                self.pool.kill(w, "aborted by a second signal")
            for w in busy:
                w.proc.join(timeout=10)
        returned = [item for item in running if self._give_back(item.payload)]
        self.sched.running.clear()
        if not returned:
            log.info("stopped: every load had finished", extra=fields(stage="stop", **self.tally.counts()))
            return self.stop_code
        return self.stop_code or EXIT_TEMPFAIL

    def _give_back(self, f: File | Pull) -> bool:
        """True when the file's load was cut short (back to inbox/, or left for the next start)."""
        if isinstance(f, Pull) or f.claimed is None or not os.path.lexists(f.claimed):
            return False  # a source's run rolled back: nothing to put back
        return recovery.give_back(route_settings(self.settings, f.dest.schema), f.route.root, f.claimed)

