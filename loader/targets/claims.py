"""Leases on tables in the claims table, run on a target's session (statements: sql/claims.py).

The supervisor takes, renews and releases them on a connection of its own (service/lease.py);
a worker only checks one: inside the publish transaction (`fence`, through the tracker) and
before it moves a file (`holds`). A lost lease means another host owns the file now.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..errors import LeaseLostError
from .base import Session
from .sql.claims import CLAIM_COLUMNS, ClaimSql


@dataclass(frozen=True)
class Lease:
    """What a worker needs to check its supervisor's claim: the key, the owner and the lease length."""

    key: str
    owner: str
    lease_s: float


class Claims:
    def __init__(self, session: Session, sql: ClaimSql):
        self.session, self.sql = session, sql

    def take(self, key: str, owner: str, host: str, pid: int, claim_id: str, file_name: str, lease_s: float) -> bool:
        """True if the lease is now this owner's: it was free, expired, or already its own."""
        return self.session.execute(self.sql.take, (key, owner, host, pid, claim_id, file_name, float(lease_s))) > 0

    def renew(self, owner: str, lease_s: float) -> int:
        return self.session.execute(self.sql.renew, (float(lease_s), owner))

    def fence(self, lease: Lease) -> None:
        """Inside the publish transaction: still ours and unexpired, and locked until the commit."""
        if self.session.execute(self.sql.fence, (float(lease.lease_s), lease.key, lease.owner)) == 0:
            raise LeaseLostError(f"the claim on {lease.key} was lost (its lease ran out, or another host took it "
                                 "over): nothing was published; that host loads the file")

    def holds(self, lease: Lease) -> bool:
        return bool(self.session.query(self.sql.holds, (lease.key, lease.owner)))

    def release(self, key: str, owner: str) -> None:
        self.session.execute(self.sql.release, (key, owner))

    def release_all(self, owner: str) -> None:
        self.session.execute(self.sql.release_all, (owner,))

    def forget(self, host: str, pid: int) -> int:
        return self.session.execute(self.sql.forget, (host, int(pid)))

    def live(self) -> list[dict[str, object]]:
        return [dict(zip(CLAIM_COLUMNS, r)) for r in self.session.query(self.sql.live)]
