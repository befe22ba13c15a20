"""What the running supervisor knows, handed to the HTTP thread without sharing its structures.

The supervisor's loop owns its scheduler and pool and mutates them without locks; the HTTP
thread must never iterate them. Instead the loop publishes a small immutable Snapshot (one
reference assignment, atomic) at most every SNAPSHOT_S, and hands each file's outcome to the
listeners (the Prometheus counters). It also speaks systemd's notify protocol: READY=1 after the
first scan, WATCHDOG=1 from the loop itself, so a stuck loop is what the watchdog catches.
"""

from __future__ import annotations

import logging
import os
import socket
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

log = logging.getLogger("loader.service")
SNAPSHOT_S = 0.5  # the page refreshes every few seconds; a fresher snapshot costs loop time for nothing


@dataclass(frozen=True)
class RouteState:
    name: str
    root: str
    queued: int = 0  # settled, waiting for its turn (scheduler)
    running: int = 0
    oldest_waiting_s: float | None = None


@dataclass(frozen=True)
class Snapshot:
    at: float = 0.0  # time.time() of the loop turn that made it
    routes: tuple[RouteState, ...] = ()
    workers: int = 0
    busy: int = 0
    worker_pids: tuple[int, ...] = ()
    db_down: bool = False
    stopping: bool = False
    uploads_waiting: int = 0


# a file reached its end: (route, table, outcome) as work.Outcome
Listener = Callable[[str, str, Any], None]


@dataclass
class Live:
    snapshot: Snapshot = field(default_factory=Snapshot)
    ready: bool = False  # the first scan is done
    started_at: float = field(default_factory=time.time)
    listeners: list[Listener] = field(default_factory=list)
    healthy: Callable[[], bool] | None = None  # the HTTP thread's: no watchdog ping once it died
    _next: float = 0.0
    _notify: Notifier | None = None

    def __post_init__(self) -> None:
        self._notify = Notifier.from_env()

    def turn(self, sup: Any, now: float) -> None:
        """Called once per loop turn: the watchdog ping, and a new snapshot when the last one aged."""
        if self._notify is not None and (self.healthy is None or self.healthy()):
            self._notify.watchdog(now)
        if now < self._next:
            return
        self._next = now + SNAPSHOT_S
        self.snapshot = build_snapshot(sup, now)

    def scanned(self) -> None:
        if not self.ready:
            self.ready = True
            if self._notify is not None:
                self._notify.send("READY=1\nSTATUS=watching the inboxes")

    def stopping(self) -> None:
        if self._notify is not None:
            self._notify.send("STOPPING=1")

    def outcome(self, route: str, table: str, out: Any) -> None:
        for listener in self.listeners:
            try:
                listener(route, table, out)
            except Exception:  # a metrics bug must never stop a load's bookkeeping
                log.exception("outcome listener failed")


def build_snapshot(sup: Any, now: float) -> Snapshot:
    """Per route: files queued and running, and how long the oldest has waited (supervisor thread only)."""
    queued: dict[str, list[float]] = {r.name: [] for r in sup.routes}
    for queue in sup.sched.queues.values():
        for item in queue:
            queued.setdefault(_route_of(item.payload), []).append(item.arrival)
    running: dict[str, int] = {}
    for item in sup.sched.running.values():
        running[_route_of(item.payload)] = running.get(_route_of(item.payload), 0) + 1
    routes = tuple(RouteState(r.name, r.root, len(queued[r.name]), running.get(r.name, 0),
                              round(now - min(queued[r.name]), 1) if queued[r.name] else None)
                   for r in sup.routes)
    return Snapshot(time.time(), routes, sup.settings.service.workers, len(sup.sched.running),
                    tuple(sup.pool.pids()), now < sup.sched.paused_until or sup.sched.db_failures > 0,
                    bool(sup.stop_requested), sup.uploads.waiting_count())


def _route_of(payload: Any) -> str:
    """A file's route; a database source's run (no route) counts under its own name."""
    route = getattr(payload, "route", None)
    return str(route.name) if route is not None else str(payload.name)


class Notifier:
    """sd_notify: one datagram to $NOTIFY_SOCKET. Written here (a dozen lines) rather than taken from
    sdnotify, whose last release is from 2017 and which ignores WATCHDOG_USEC."""

    def __init__(self, address: str, watchdog_s: float | None):
        self.address = "\0" + address[1:] if address.startswith("@") else address
        self.interval = watchdog_s / 2 if watchdog_s else None  # systemd's advice: ping at half the timeout
        self._last = 0.0

    @classmethod
    def from_env(cls) -> Notifier | None:
        address = os.environ.get("NOTIFY_SOCKET")
        if not address:
            return None
        usec = os.environ.get("WATCHDOG_USEC", "")
        pid = os.environ.get("WATCHDOG_PID", "")
        mine = not pid or pid == str(os.getpid())
        return cls(address, int(usec) / 1e6 if usec.isdigit() and mine else None)

    def send(self, message: str) -> None:
        try:
            with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as s:
                s.connect(self.address)
                s.sendall(message.encode())
        except OSError as e:
            log.warning("systemd notify (%s) failed: %s", message.split("\n")[0], e)

    def watchdog(self, now: float) -> None:
        if self.interval is not None and now - self._last >= self.interval:
            self._last = now
            self.send("WATCHDOG=1")
