"""The supervisor's side of several hosts: leases around claims, and claims other hosts left.

The loop (supervise.py) asks here before it claims or starts a file: take the table's lease
(service/lease.py) or let the file wait at the head of its queue; put an abandoned claim of the
same table first (it arrived before every inbox file still waiting, and a newer fullload must
win); and, at each scan, queue the claims in processing/ that no live lease covers — a dead
host's, or this host's before a restart — to be reconciled and loaded under this host's lease.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from .. import routes
from ..coltypes import Action
from ..config import RouteSettings, Settings
from ..errors import BadInputError, LoaderError
from ..logs import fields
from ..targets.claims import Lease
from . import claim, recovery
from .lease import Leases
from .scheduler import Item, Scheduler

log = logging.getLogger("loader.service")
# enqueue(route, name, now, claimed=, adopted=, first=): the supervisor's own
Enqueue = Callable[..., bool]


def key_of(item: Item[Any]) -> str:
    return f"{item.payload.dest.schema}.{item.payload.dest.table}"


class Hosts:
    def __init__(self, leases: Leases, settings: Settings, route_list: list[RouteSettings],
                 sched: Scheduler[Any], enqueue: Enqueue):
        self.leases, self.settings, self.routes, self.sched, self.enqueue = leases, settings, route_list, sched, enqueue

    def start(self, now: float) -> None:
        self.leases.start()
        self.adopt(now)

    def stop(self) -> None:
        self.leases.stop()

    def lease_of(self, key: str) -> Lease:
        return self.leases.lease(key)

    # -- before a file starts -------------------------------------------------------------------
    def lease(self, item: Item[Any]) -> bool:
        """The table's lease before the file is claimed or worked on; while another host holds it,
        the item waits at the head of its queue (not an attempt). A database that does not answer
        pauses dispatch as for any unavailable database."""
        f = item.payload
        is_file = hasattr(f, "claim_id")
        if is_file:
            f.claim_id = f.claimed.parent.name if f.claimed is not None else (f.claim_id or claim.new_claim_id())
        try:
            won = self.leases.take(key_of(item), f.claim_id if is_file else f.name, f.name)
        except LoaderError as e:
            _, delay = self.sched.settle(item, Action.UNAVAILABLE, time.monotonic())
            log.warning("database unavailable: %s; %d file(s) waiting, next try in %.1fs", e, self.sched.waiting(),
                        delay, extra=fields(stage="db_down", waiting=self.sched.waiting()))
            return False
        if not won:
            self.sched.defer(item, time.monotonic())
        return won

    def release(self, item: Item[Any]) -> None:
        self.leases.release(key_of(item))

    def older_first(self, item: Item[Any]) -> bool:
        """Holding the table's lease for an inbox file: claims of the same table left in processing/
        by a host that died go first; True if there were some (this file waits behind them)."""
        older = [(r, p) for r, p, d in self.unknown_claims([item.payload.route]) if (d.schema, d.table) == item.key]
        if not older:
            return False
        self.sched.defer(item, time.monotonic())
        for route, path in reversed(older):
            self.enqueue(route, path.name, time.monotonic(), claimed=path, adopted=True, first=True)
        return True

    # -- at each scan ---------------------------------------------------------------------------
    def adopt(self, now: float) -> None:
        """Claims in processing/ that no live lease covers join the queues."""
        try:
            busy = self.leases.busy()
        except LoaderError as e:
            log.warning("cannot read the claims (%s): claims left in processing/ are looked at later", e,
                        extra=fields(stage="recover"))
            return
        free = [(route, path) for route, path, dest in self.unknown_claims(self.routes)
                if f"{dest.schema}.{dest.table}" not in busy]  # busy was read before the listing
        for route, path in reversed(free):  # oldest claim first, ahead of the inbox files of its table
            self.enqueue(route, path.name, now, claimed=path, adopted=True, first=True)

    def unknown_claims(self, route_list: list[RouteSettings]) -> Iterator[tuple[RouteSettings, Path,
                                                                                 routes.Destination]]:
        """Claims in processing/ that are not in this supervisor's queues, with their tables."""
        known = {str(getattr(i.payload, "claimed", None)) for i in self.sched.items()}
        for route, path in recovery.claimed_files(route_list, self.leases.lease_s, quiet=True):
            if str(path) in known:
                continue
            try:
                yield route, path, routes.destination(route, path.name, self.settings.schemas.ref)
            except BadInputError:
                continue  # not this host's routes: the file waits for a host whose routes take it
