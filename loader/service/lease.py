"""Several hosts on one drop folder: this supervisor's leases on tables, and its heartbeat.

On PostgreSQL and SQL Server the database coordinates the hosts (targets/sql/claims.py): a file
is claimed, loaded and moved only under its table's lease, which this supervisor takes before it
renames the file into processing/, keeps while the file is queued or loading, and releases when
the file is done. A heartbeat thread renews every lease the supervisor holds each third of
`service.lease_s`; a host that dies stops renewing, and after the lease another host takes its
files over from processing/ (recovery reconciles what the dead one left). A supervisor paused
past its lease is fenced: its publish checks the lease inside the transaction and rolls back.

SQLite is a local file: one supervisor per database, held by a lock file beside it, so a second
one on the same database is refused at start instead of racing.
"""

from __future__ import annotations

import contextlib
import fcntl
import logging
import os
import secrets
import socket
import threading
from pathlib import Path
from typing import Any

from ..config import Settings
from ..errors import ConfigError, LoaderError
from ..logs import fields
from ..targets import Target, open_target
from ..targets.claims import Claims, Lease
from ..targets.sql.claims import HOST_KEY

log = logging.getLogger("loader.service")
MIN_BEAT_S = 0.2


class Leases:
    """Table leases of this supervisor, on a connection of its own (the heartbeat shares it, locked)."""

    def __init__(self, settings: Settings):
        self.settings, self.lease_s = settings, settings.service.lease_s
        self.host, self.pid = socket.gethostname(), os.getpid()
        self.owner = f"{self.host}:{self.pid}:{secrets.token_hex(4)}"
        self.lock = threading.Lock()
        self.held: set[str] = set()
        self.stopped = threading.Event()
        self.target: Target | None = None
        self.thread: threading.Thread | None = None
        self.beat_failed = False
        self.announced = False  # this supervisor's own row is written (and dead ones of this host forgotten)

    # -- lifecycle ----------------------------------------------------------------------------
    def start(self) -> None:
        """Forget this host's dead supervisors (their files are free at once), say we are here, beat.
        A database out of reach is not fatal: the heartbeat says so again once it answers."""
        try:
            self._announce()
        except ConfigError:
            raise
        except LoaderError as e:
            log.warning("cannot reach the claims table yet (%s); files are claimed once it answers", e,
                        extra=fields(stage="lease"))
        self.thread = threading.Thread(target=self._beat, name="lease-heartbeat", daemon=True)
        self.thread.start()

    def _announce(self) -> None:
        with self.lock:
            try:
                claims = self._claims()
                for row in claims.live():
                    pid = int(str(row["pid"]))
                    dead = row["host"] == self.host and pid != self.pid and not _alive(pid)
                    if dead and claims.forget(self.host, pid):
                        log.warning("released the claims of a dead supervisor (pid %s) of this host", pid,
                                    extra=fields(stage="recover"))
                claims.take(HOST_KEY + self.owner, self.owner, self.host, self.pid, "", "", self.lease_s)
            except LoaderError:
                self._close()
                raise
        self.announced = True

    def stop(self) -> None:
        """Every lease released and this host's row gone: a clean stop frees the files at once."""
        self.stopped.set()
        if self.thread is not None:
            self.thread.join(timeout=10)
        with self.lock, contextlib.suppress(LoaderError):
            self._claims().release_all(self.owner)
        self._close()

    # -- per table ----------------------------------------------------------------------------
    def lease(self, key: str) -> Lease:
        return Lease(key, self.owner, self.lease_s)

    def take(self, key: str, claim_id: str, file_name: str) -> bool:
        """The table's lease for this file; False while another host holds it. Raises LoaderError
        when the database does not answer (the caller pauses as for any unavailable database)."""
        with self.lock:
            try:
                won = self._claims().take(key, self.owner, self.host, self.pid, claim_id, file_name, self.lease_s)
            except LoaderError:
                self._close()
                raise
        if won:
            self.held.add(key)
        return won

    def release(self, key: str) -> None:
        if key not in self.held:
            return
        self.held.discard(key)
        with self.lock:
            try:
                self._claims().release(key, self.owner)
            except LoaderError as e:  # it expires on its own after the lease
                self._close()
                log.warning("could not release the claim on %s (%s); it expires in %.0fs", key, e, self.lease_s)

    def busy(self) -> set[str]:
        """Tables whose lease is live, whoever holds it: their files in processing/ are being worked on."""
        with self.lock:
            try:
                rows = self._claims().live()
            except LoaderError:
                self._close()
                raise
        return {str(r["claim_key"]) for r in rows if not r["expired"] and not str(r["claim_key"]).startswith(HOST_KEY)}

    # -- heartbeat ----------------------------------------------------------------------------
    def _beat(self) -> None:
        every = max(MIN_BEAT_S, self.lease_s / 3)
        while not self.stopped.wait(every):
            try:
                if not self.announced:
                    self._announce()
                with self.lock:
                    try:
                        self._claims().renew(self.owner, self.lease_s)
                    except LoaderError:
                        self._close()
                        raise
            except LoaderError as e:
                if not self.beat_failed:
                    log.warning("heartbeat failed (%s): the leases run out in %.0fs unless the database answers "
                                "again", e, self.lease_s, extra=fields(stage="lease"))
                self.beat_failed = True
                continue
            if self.beat_failed:
                log.info("heartbeat renewed again", extra=fields(stage="lease"))
                self.beat_failed = False

    def _claims(self) -> Claims:
        if self.target is None:
            target = open_target(self.settings)
            try:
                target.ensure_ready()
            except BaseException:
                with contextlib.suppress(Exception):
                    target.close()
                raise
            self.target = target
        claims = self.target.tracker.claims
        if claims is None:
            raise ConfigError(f"{self.target.capabilities.name} cannot coordinate several hosts")
        return claims

    def _close(self) -> None:
        if self.target is not None:
            with contextlib.suppress(Exception):
                self.target.close()
        self.target = None


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def leases_for(settings: Settings) -> Leases | None:
    """Leases on a database that coordinates hosts; None on SQLite (see single_service)."""
    return None if settings.database.url.startswith("sqlite:") else Leases(settings)


def single_service(url: str) -> Any:
    """SQLite: the lock file <db>.service.lock, held (flock) for the supervisor's life; a second
    supervisor on the same database is refused with who holds it. Returns the fd to keep open."""
    path = url.split("sqlite:///", 1)[1] if url.startswith("sqlite:///") else url.removeprefix("sqlite:")
    lock = Path(path.split("?", 1)[0] + ".service.lock")
    try:
        lock.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(lock, os.O_CREAT | os.O_RDWR, 0o600)
    except OSError as e:
        raise ConfigError(f"cannot create {lock}: {e.strerror or e}") from None
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        holder = os.pread(fd, 200, 0).decode(errors="replace").strip() or "another process"
        os.close(fd)
        raise ConfigError(f"another loader service already runs on this SQLite database ({holder}): SQLite is a "
                          "local file, so one service per database; to run several hosts on one drop folder use "
                          "PostgreSQL or SQL Server as the database") from None
    os.ftruncate(fd, 0)
    os.pwrite(fd, f"pid {os.getpid()} on {socket.gethostname()}\n".encode(), 0)
    return fd
