"""PostgreSQL through psqlODBC: the shared pyodbc writer, proven for real without SQL Server.

`postgresql+pyodbc://user:pass@host:5432/db?driver=PostgreSQL+Unicode` is the PostgreSQL target
in every respect (DDL, locks, publish, tracking through psycopg) except the bulk path, which
is loader/targets/odbc.py, the same code SQL Server uses for fast_executemany. It is slow on
purpose-built grounds (psqlODBC executes a parameter array one row at a time, ~20k rows/s),
so it is a proof and a fallback, not a way to load PostgreSQL fast.
"""

from __future__ import annotations

import contextlib
from typing import Any
from urllib.parse import parse_qsl, unquote, urlencode, urlsplit, urlunsplit

import pyarrow as pa

from ..coltypes import Column
from ..errors import ConfigError
from ..naming import quote
from . import odbc
from .base import Capabilities, RowLocator, no_direct_append
from .postgres import PostgresTarget, qualified

DEFAULT_DRIVER = "PostgreSQL Unicode"  # Debian odbc-postgresql registers this name in odbcinst.ini


def split_url(url: str) -> tuple[str, str]:
    """postgresql+pyodbc://… -> (libpq URL for control, ODBC connection string for the bulk path)."""
    parts = urlsplit(url)
    if parts.scheme != "postgresql+pyodbc":
        raise ConfigError("expected a postgresql+pyodbc:// URL")
    query = dict(parse_qsl(parts.query, keep_blank_values=True))
    driver = query.pop("driver", DEFAULT_DRIVER)
    libpq = urlunsplit(parts._replace(scheme="postgresql", query=urlencode(query)))
    host = query.pop("host", None) or parts.hostname or "localhost"
    pairs = {"Driver": driver, "Server": host, "Port": str(parts.port or 5432),
             "Database": unquote(parts.path.lstrip("/")) or "postgres",
             "Uid": unquote(parts.username or ""), "Pwd": unquote(parts.password or "")}
    # sslmode and friends: psqlODBC takes the libpq names as connection-string keys
    pairs |= {k: v for k, v in query.items() if k in ("sslmode", "sslrootcert", "connect_timeout")}
    return libpq, odbc.connection_string(pairs)


class PgOdbcTarget(PostgresTarget):
    # the ODBC writer has its own connection: appends go through staging
    capabilities = Capabilities(name="PostgreSQL (ODBC)", direct_append=False)
    append_direct = no_direct_append

    def __init__(self, url: str, schemas: dict[str, str], lock_timeout_s: float = 30.0):
        libpq, self.odbc_string = split_url(url)
        super().__init__(libpq, schemas, lock_timeout_s)
        self._columns: dict[tuple[str, str], list[Column]] = {}

    def create_stage(self, schema: str, stage: str, columns: list[Column]) -> None:
        super().create_stage(schema, stage, columns)
        self._columns[schema, stage] = list(columns)

    def write_stage(self, schema: str, stage: str, reader: pa.RecordBatchReader, locate: RowLocator) -> int:
        columns = self._columns.get((schema, stage)) or self.existing_columns(schema, stage) or []
        sql = odbc.insert_sql(qualified(schema, stage), [quote(c.name) for c in columns])
        with contextlib.closing(self._odbc_connect()) as conn:
            odbc.OdbcWriter(conn, sql, columns, "PostgreSQL", refuses_nul=True).write(reader, locate)
        return self.count(schema, stage)

    def _odbc_connect(self) -> Any:
        pyodbc = odbc.import_pyodbc()

        try:
            conn = pyodbc.connect(self.odbc_string, autocommit=False, timeout=10)
            conn.cursor().execute("SET TIME ZONE 'UTC'")  # timestamptz values arrive as naive UTC
            conn.commit()
            return conn
        except pyodbc.Error as e:
            error = odbc.map_error(e, "PostgreSQL", connecting=True)
            raise type(error)(f"cannot connect to PostgreSQL through ODBC: {error.reason}",
                              sqlstate=error.sqlstate) from None

    def drop_stage(self, schema: str, stage: str) -> None:
        self._columns.pop((schema, stage), None)
        super().drop_stage(schema, stage)


def connect(url: str, schemas: dict[str, str], lock_timeout_s: float) -> PgOdbcTarget:
    return PgOdbcTarget(url, schemas, lock_timeout_s)
