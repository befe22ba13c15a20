"""The claims table: which host loads which table now, until when — statements per dialect.

Several supervisors (hosts) share one drop folder and one database; the database is the
coordinator. A claim row per table is a lease: taken by one conditional statement (an upsert
that only replaces a row whose lease expired, or one this owner holds), renewed by the owner's
heartbeat, checked inside the publish transaction (the fence: the row is locked there, so a
takeover waits for the commit), deleted when the table's file is done. A row per supervisor
(`host:<owner>`) carries its heartbeat for `loader status`. Every time is the database's clock
(`clock_timestamp()`, `SYSUTCDATETIME()`), never a host's, so skewed host clocks do not matter.
SQLite has no such table: it is a local file, one supervisor per database (service/lease.py).
"""

from __future__ import annotations

from dataclasses import dataclass

CLAIMS_TABLE = "loader_claims"
HOST_KEY = "host:"  # claim_key prefix of a supervisor's own row (its heartbeat)
# claim_key, owner, host, pid, claim_id, file_name; what `live` returns, in this order
CLAIM_COLUMNS = ("claim_key", "owner", "host", "pid", "claim_id", "file_name", "claimed_at", "heartbeat_at",
                 "expires_at", "expired")


@dataclass(frozen=True)
class ClaimSql:
    """Parameters of each statement are in the order its comment gives."""

    create: str  # none (SQL Server: the table's '[schema].[name]')
    take: str  # claim_key, owner, host, pid, claim_id, file_name, lease seconds; changes 1 row if taken
    renew: str  # lease seconds, owner: every row of the owner, expired or not, that nobody took over
    fence: str  # lease seconds, claim_key, owner: 1 row if the owner still holds an unexpired lease
    holds: str  # claim_key, owner: one row if it does
    release: str  # claim_key, owner
    release_all: str  # owner
    forget: str  # host, pid: a dead supervisor's rows on this host
    live: str  # none: CLAIM_COLUMNS of every row, expired = 1 when its lease has run out

    def all(self) -> list[str]:
        return [self.create, self.take, self.renew, self.fence, self.holds, self.release, self.release_all,
                self.forget, self.live]


def postgres_claims(table: str) -> ClaimSql:
    """`table` qualified and quoted. ON CONFLICT … DO UPDATE … WHERE takes a free or expired lease in
    one statement: two hosts racing for the same key serialise on its row (or unique index)."""
    now = "clock_timestamp()"
    until = f"{now} + %s * interval '1 second'"
    return ClaimSql(
        create=(f"CREATE TABLE IF NOT EXISTS {table} (claim_key text PRIMARY KEY, owner text NOT NULL, "
                "host text NOT NULL, pid integer NOT NULL, claim_id text, file_name text, "
                "claimed_at timestamptz NOT NULL, heartbeat_at timestamptz NOT NULL, expires_at timestamptz NOT NULL)"),
        take=(f"INSERT INTO {table} AS c (claim_key, owner, host, pid, claim_id, file_name, claimed_at, "
              f"heartbeat_at, expires_at) VALUES (%s, %s, %s, %s, %s, %s, {now}, {now}, {until}) "
              "ON CONFLICT (claim_key) DO UPDATE SET owner = EXCLUDED.owner, host = EXCLUDED.host, "
              "pid = EXCLUDED.pid, claim_id = EXCLUDED.claim_id, file_name = EXCLUDED.file_name, "
              "claimed_at = EXCLUDED.claimed_at, heartbeat_at = EXCLUDED.heartbeat_at, "
              f"expires_at = EXCLUDED.expires_at WHERE c.expires_at < {now} OR c.owner = EXCLUDED.owner"),
        **_upkeep(table, now, until, "%s"),
    )


def mssql_claims(table: str) -> ClaimSql:
    """`table` qualified and bracketed. MERGE WITH (HOLDLOCK): the key range stays locked from the
    match to the insert, so two hosts racing for a new key cannot both find it missing (without
    HOLDLOCK one of them would fail on the primary key instead of simply losing)."""
    now = "SYSUTCDATETIME()"
    until = f"DATEADD(millisecond, CAST(? * 1000 AS int), {now})"
    cols = "claim_key, owner, host, pid, claim_id, file_name, claimed_at, heartbeat_at, expires_at"
    return ClaimSql(
        create=(f"IF OBJECT_ID(?, 'U') IS NULL CREATE TABLE {table} (claim_key nvarchar(450) NOT NULL PRIMARY KEY, "
                "owner nvarchar(300) NOT NULL, host nvarchar(255) NOT NULL, pid int NOT NULL, "
                "claim_id nvarchar(300) NULL, file_name nvarchar(1000) NULL, claimed_at datetime2(6) NOT NULL, "
                "heartbeat_at datetime2(6) NOT NULL, expires_at datetime2(6) NOT NULL)"),
        take=(f"MERGE {table} WITH (HOLDLOCK) AS c USING (SELECT ? AS claim_key, ? AS owner, ? AS host, ? AS pid, "
              f"? AS claim_id, ? AS file_name, {until} AS expires_at) AS s ON c.claim_key = s.claim_key "
              f"WHEN MATCHED AND (c.expires_at < {now} OR c.owner = s.owner) THEN UPDATE SET owner = s.owner, "
              f"host = s.host, pid = s.pid, claim_id = s.claim_id, file_name = s.file_name, claimed_at = {now}, "
              f"heartbeat_at = {now}, expires_at = s.expires_at "
              f"WHEN NOT MATCHED THEN INSERT ({cols}) VALUES (s.claim_key, s.owner, s.host, s.pid, s.claim_id, "
              f"s.file_name, {now}, {now}, s.expires_at);"),
        **_upkeep(table, now, until, "?"),
    )


def _upkeep(table: str, now: str, until: str, m: str) -> dict[str, str]:
    """The statements both dialects spell alike but for the clock, the lease's end and the placeholder."""
    return dict(
        renew=f"UPDATE {table} SET heartbeat_at = {now}, expires_at = {until} WHERE owner = {m}",
        fence=(f"UPDATE {table} SET heartbeat_at = {now}, expires_at = {until} "
               f"WHERE claim_key = {m} AND owner = {m} AND expires_at > {now}"),
        holds=f"SELECT 1 FROM {table} WHERE claim_key = {m} AND owner = {m} AND expires_at > {now}",
        release=f"DELETE FROM {table} WHERE claim_key = {m} AND owner = {m}",
        release_all=f"DELETE FROM {table} WHERE owner = {m}",
        forget=f"DELETE FROM {table} WHERE host = {m} AND pid = {m}",
        live=(f"SELECT {', '.join(CLAIM_COLUMNS[:-1])}, CASE WHEN expires_at < {now} THEN 1 ELSE 0 END AS expired "
              f"FROM {table} ORDER BY claim_key"),
    )
