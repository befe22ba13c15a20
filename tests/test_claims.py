"""Leases on tables in the claims table: the statements (pure, parsed per dialect) and what they do
on a real database: one owner at a time, expiry by the database's clock, the fence in a transaction."""

from __future__ import annotations

import threading
import time

import pytest
import sqlglot

from loader.errors import LeaseLostError
from loader.targets import open_target
from loader.targets.claims import Lease
from loader.targets.sql import mssql as ms
from loader.targets.sql import postgres as pg
from loader.targets.sql.claims import CLAIMS_TABLE

from .conftest import Db

# parameters of each statement, in ClaimSql's documented order
PARAMS = {"create": 0, "take": 7, "renew": 2, "fence": 3, "holds": 2, "release": 2, "release_all": 1,
          "forget": 2, "live": 0}


@pytest.mark.parametrize("claims, dialect, mark", [(pg.claims("loader"), "postgres", "%s"),
                                                   (ms.claims("loader"), "tsql", "?")])
def test_every_claim_statement_parses_and_takes_its_values_as_parameters(claims, dialect, mark):
    for name, count in PARAMS.items():
        text = getattr(claims, name)
        parsed = sqlglot.parse(text, read=dialect, error_level=sqlglot.ErrorLevel.RAISE)
        assert len(parsed) == 1 and parsed[0] is not None, text
        create_param = 1 if dialect == "tsql" and name == "create" else 0  # OBJECT_ID(?)
        assert text.count(mark) == count + create_param, (name, text)
        assert "'" not in text.replace("'1 second'", "").replace("'U'", ""), f"{name}: a literal value in {text}"
        assert CLAIMS_TABLE in text


def test_sql_server_takes_a_lease_under_holdlock_and_by_the_servers_clock():
    take = ms.claims("loader").take
    assert take.startswith("MERGE [loader].[loader_claims] WITH (HOLDLOCK)")
    assert "c.expires_at < SYSUTCDATETIME() OR c.owner = s.owner" in take
    assert "GETDATE" not in take and "CURRENT_TIMESTAMP" not in take


def test_postgresql_judges_leases_by_the_servers_clock_not_the_transactions():
    """now() is the transaction's start: a fence inside a long publish would see an old time."""
    for text in pg.claims("loader").all():
        assert "now()" not in text.replace("clock_timestamp()", "")


# -- on a real database ------------------------------------------------------------------------

def _claims(db: Db):
    target = open_target(db.settings())
    target.ensure_ready()
    assert target.tracker.claims is not None
    return target, target.tracker.claims


def test_one_owner_at_a_time_until_the_lease_runs_out(hosts_db: Db) -> None:
    a_target, a = _claims(hosts_db)
    b_target, b = _claims(hosts_db)
    try:
        assert a.take("ref.t", "A", "host-a", 1, "c1", "f1.csv", 0.6)
        assert not b.take("ref.t", "B", "host-b", 2, "c2", "f2.csv", 30), "held by A"
        assert a.take("ref.t", "A", "host-a", 1, "c1b", "f1.csv", 0.6), "A may take its own again"
        assert a.holds(Lease("ref.t", "A", 0.6)) and not b.holds(Lease("ref.t", "B", 30))
        time.sleep(0.9)  # the database's clock says when it runs out
        assert not a.holds(Lease("ref.t", "A", 0.6))
        assert b.take("ref.t", "B", "host-b", 2, "c2", "f2.csv", 30), "expired: B takes it over"
        assert a.renew("A", 30) == 0, "A's heartbeat cannot win it back"
        with pytest.raises(LeaseLostError):
            a.fence(Lease("ref.t", "A", 30))
        live = {r["claim_key"]: r for r in a.live()}
        assert live["ref.t"]["owner"] == "B" and live["ref.t"]["file_name"] == "f2.csv"
        assert not live["ref.t"]["expired"]
        b.release("ref.t", "A")  # not A's to release any more: a no-op
        assert b.holds(Lease("ref.t", "B", 30))
        b.release("ref.t", "B")
        assert a.take("ref.t", "A", "host-a", 1, "c3", "f3.csv", 30), "released: free at once"
    finally:
        a_target.close()
        b_target.close()


def test_a_fenced_publish_holds_off_a_takeover_until_it_commits(hosts_db: Db) -> None:
    """The fence locks the claim row: a host taking over after expiry waits for the commit, and then
    finds the lease renewed by it, so it cannot load the same file a second time."""
    a_target, a = _claims(hosts_db)
    b_target, b = _claims(hosts_db)
    try:
        assert a.take("ref.t", "A", "host-a", 1, "c1", "f1.csv", 0.5)
        won: list[bool] = []
        with a_target.session.transaction():  # type: ignore[attr-defined]
            a.fence(Lease("ref.t", "A", 30))
            time.sleep(0.7)  # past the first lease: only the fence's renewal keeps it
            thread = threading.Thread(target=lambda: won.append(b.take("ref.t", "B", "host-b", 2, "c2", "f", 30)))
            thread.start()
            time.sleep(0.5)
            assert not won, "B's takeover must wait for A's transaction"
        thread.join(30)
        assert won == [False], "after A's commit the lease is A's, renewed by the fence"
    finally:
        a_target.close()
        b_target.close()


def test_a_dead_supervisors_claims_on_this_host_are_forgotten(hosts_db: Db) -> None:
    target, claims = _claims(hosts_db)
    try:
        claims.take("ref.t", "dead", "host-a", 4242, "c1", "f1.csv", 600)
        claims.take("host:dead", "dead", "host-a", 4242, "", "", 600)
        claims.take("ref.u", "alive", "host-a", 7, "c2", "f2.csv", 600)
        assert claims.forget("host-a", 4242) == 2
        assert [r["claim_key"] for r in claims.live()] == ["ref.u"]
    finally:
        target.close()
