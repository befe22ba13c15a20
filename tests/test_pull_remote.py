"""Snowflake and SQL Server as sources: the same full and incremental pulls, run when a server is given.

LOADER_TEST_SNOWFLAKE_URL (snowflake://user:pass@account/db/schema?warehouse=…) and
LOADER_TEST_MSSQL_URL (as for the SQL Server target). Without them these tests skip, saying so:
neither can run on these machines.
"""

from __future__ import annotations

import os
import uuid
from typing import Any

import pytest

from loader.readers.query_conn import connect
from loader.sources import PullRequest, pull

from .conftest import Db


def _url(variable: str, what: str) -> str:
    url = os.environ.get(variable)
    if not url:
        pytest.skip(f"{what} source: set {variable} to run the pull tests against a real server")
    return url


def _run(url: str, sql: str) -> None:
    conn: Any = connect(url, "test")
    try:
        conn.rows(sql)
    finally:
        conn.close()


@pytest.mark.parametrize("variable, what, ts", [("LOADER_TEST_SNOWFLAKE_URL", "Snowflake", "TIMESTAMP_NTZ"),
                                                ("LOADER_TEST_MSSQL_URL", "SQL Server", "datetime2(6)")])
def test_full_and_incremental_pull(sqlite_db: Db, variable: str, what: str, ts: str) -> None:
    url = _url(variable, what)
    table = "loader_src_" + uuid.uuid4().hex[:8]
    _run(url, f"CREATE TABLE {table} (id bigint, amount decimal(18,4), name varchar(50), updated_at {ts})")
    try:
        _run(url, f"INSERT INTO {table} VALUES (1, 1.5, 'a', '2024-01-01 00:00:01'), (2, NULL, NULL, "
                  "'2024-01-01 00:00:02')")
        full = pull(PullRequest(source=url, source_table=table, table="full_copy"), sqlite_db.settings())
        assert full.status == "loaded" and full.rows_loaded == 2, full.error
        inc = PullRequest(source=url, query=f"select * from {table}", table="inc", mode="append",
                          incremental="updated_at")
        assert pull(inc, sqlite_db.settings()).rows_loaded == 2
        _run(url, f"INSERT INTO {table} VALUES (3, 2.25, 'c', '2024-01-01 00:00:03')")
        assert pull(inc, sqlite_db.settings()).rows_loaded == 1
        assert sqlite_db.query("SELECT count(*), count(DISTINCT id) FROM ref.inc") == [(3, 3)]
    finally:
        _run(url, f"DROP TABLE {table}")
