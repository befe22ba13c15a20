"""Noticing files: a polling scan that always runs, native events that only wake it sooner.

Network shares (SMB/NFS) deliver no inotify events, so the poll is the source of truth;
events (watchfiles, a Rust `notify` binding) cut the latency on local disks. A file is
ready once its size and mtime have not changed for `stable_s`: a copy still in progress
keeps changing, and temporary names are never considered (routes.wants).
"""

from __future__ import annotations

import contextlib
import logging
import os
import select
import threading
import time
from collections.abc import Iterable
from dataclasses import dataclass

from .. import routes
from ..config import RouteSettings
from .folders import INBOX

log = logging.getLogger("loader.watch")


@dataclass
class _Seen:
    size: int
    mtime_ns: int
    since: float  # monotonic time the (size, mtime) pair was first seen
    first_seen: float


class Stability:
    """Pure bookkeeping: feed it what a scan saw, get back the paths that have settled."""

    def __init__(self, stable_s: float):
        self.stable_s = stable_s
        self.seen: dict[str, _Seen] = {}

    def observe(self, entries: Iterable[tuple[str, int, int]], now: float, wall_ns: int | None = None) -> list[str]:
        """entries: (path, size, mtime_ns) of everything in the inboxes now; returns ready paths, oldest first.

        A file's quiet time counts from its mtime when that is in the past (wall_ns is the clock now):
        a file that settled before the service looked is ready at once. A share whose clock runs
        behind ours could make a copy in progress look settled: set stable_s above that skew.
        """
        current = {}
        for path, size, mtime_ns in entries:
            old = self.seen.get(path)
            quiet = max(0.0, (wall_ns - mtime_ns) / 1e9) if wall_ns is not None else 0.0
            if old is None:
                current[path] = _Seen(size, mtime_ns, now - quiet, now)
            elif (old.size, old.mtime_ns) != (size, mtime_ns):
                current[path] = _Seen(size, mtime_ns, now - quiet, old.first_seen)
            else:
                current[path] = old
        self.seen = current
        ready = [(s.first_seen, p) for p, s in current.items() if now - s.since >= self.stable_s]
        return [p for _, p in sorted(ready)]

    def forget(self, path: str) -> None:
        self.seen.pop(path, None)

    def next_ready_in(self, now: float) -> float | None:
        """Seconds until the earliest pending file could settle (wake the scan then)."""
        waits = [s.since + self.stable_s - now for s in self.seen.values()]
        return max(0.0, min(waits)) if waits else None

    def oldest_age(self, now: float) -> float | None:
        return max((now - s.first_seen for s in self.seen.values()), default=None)


def scan(folder: str) -> list[tuple[str, str, int, int]]:
    """(name, path, size, mtime_ns) of the entries in a folder; links are reported as they are."""
    out = []
    try:
        with os.scandir(folder) as it:
            for entry in it:
                try:
                    st = entry.stat(follow_symlinks=False)
                except FileNotFoundError:
                    continue
                if entry.is_dir(follow_symlinks=False):
                    continue
                out.append((entry.name, entry.path, st.st_size, st.st_mtime_ns))
    except FileNotFoundError:
        pass
    return out


class Waker:
    """Wakes the service loop; safe to set from a signal handler as well as from any thread.

    A threading.Event is not: its set() takes a lock that the main thread may be holding inside
    Event.wait() or clear() when the signal lands, and the handler runs on that same thread, so it
    waits for itself forever (measured here: 1 in ~500 to ~7000 signals delivered at 1 kHz while
    the loop waits in 0.1 s slices). This is a self-pipe: set() is one non-blocking os.write, and
    the pipe's read end can sit in the same select() as the workers' pipes.
    """

    def __init__(self) -> None:
        self._read, self._write = os.pipe()
        os.set_blocking(self._read, False)
        os.set_blocking(self._write, False)
        self._flag = False

    def set(self) -> None:
        self._flag = True
        with contextlib.suppress(BlockingIOError, OSError):  # pipe full: a wake-up is pending anyway
            os.write(self._write, b"\0")

    def is_set(self) -> bool:
        return self._flag

    def clear(self) -> None:
        self._flag = False  # first: a set() racing with the drain below leaves the flag up
        with contextlib.suppress(BlockingIOError, OSError):
            while os.read(self._read, 4096):
                pass

    def wait(self, timeout: float) -> bool:
        if not self._flag:
            with contextlib.suppress(InterruptedError):
                select.select([self._read], [], [], timeout)
        return self._flag

    def fileno(self) -> int:
        return self._read

    def close(self) -> None:
        for fd in (self._read, self._write):
            with contextlib.suppress(OSError):
                os.close(fd)


class Inbox:
    """The routes' inboxes as one source of settled files: scan when due, report each file once."""

    def __init__(self, route_list: list[RouteSettings], stable_s: float, poll_s: float):
        self.routes, self.poll_s = route_list, poll_s
        self.stability = Stability(stable_s)
        self.known: set[str] = set()  # inbox paths queued and not yet claimed
        self.next_poll = 0.0

    def due(self, now: float, woken: bool) -> bool:
        """Scan now: woken by an event, the poll interval is over, or a file may just have settled."""
        wait = self.stability.next_ready_in(now)
        return woken or now >= self.next_poll or (wait is not None and wait <= 0)

    def scan(self, now: float) -> list[tuple[RouteSettings, str, str]]:
        """(route, name, path) of the files that settled since the last scan, oldest first."""
        self.next_poll = now + self.poll_s
        entries, by_path = [], {}
        for route in self.routes:
            for name, path, size, mtime_ns in scan(os.path.join(route.root, INBOX)):
                if path in self.known or not routes.wants(route, name):
                    continue
                entries.append((path, size, mtime_ns))
                by_path[path] = (route, name)
        ready = self.stability.observe(entries, now, time.time_ns())
        for path in ready:
            self.stability.forget(path)
        return [(*by_path[p], p) for p in ready]

    def settling(self) -> bool:
        """Files seen but not settled yet: `--once` waits for them."""
        return bool(self.stability.seen)


class EventWaker:
    """A thread that sets `wake` whenever the OS reports a change in one of the folders."""

    def __init__(self, folders: list[str], wake: Waker):
        self.folders, self.wake = folders, wake
        self.stop_event = threading.Event()
        self.thread: threading.Thread | None = None
        self.active = False

    def start(self) -> bool:
        try:
            import watchfiles  # noqa: F401
        except ImportError:
            log.warning("watchfiles is not installed: polling only")
            return False
        self.thread = threading.Thread(target=self._run, name="loader-events", daemon=True)
        self.thread.start()
        return True

    def _run(self) -> None:
        import watchfiles

        while not self.stop_event.is_set():
            try:
                self.active = True
                # debounce 50 ms: a copy writes many chunks; one wake-up per burst is enough
                for _changes in watchfiles.watch(*self.folders, stop_event=self.stop_event, debounce=50, step=20,
                                                 recursive=False, raise_interrupt=False,
                                                 ignore_permission_denied=True):
                    self.wake.set()
            except Exception as e:  # events are an optimisation: polling carries on without them
                self.active = False
                log.warning("file events failed (%s); polling only, retrying events in 30 s", e)
                self.stop_event.wait(30)

    def stop(self) -> None:
        self.stop_event.set()
        if self.thread is not None:
            self.thread.join(timeout=5)


def monotonic() -> float:
    return time.monotonic()
