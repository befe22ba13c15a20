"""SQL Server, the production target: three bulk paths into staging, publish by ALTER SCHEMA TRANSFER.

Control (DDL, locks, publish, tracking): pyodbc with Microsoft's ODBC driver, autocommit, one
explicit transaction per publish. Bulk paths into the staging heap, best first (`auto`):
1. mssql-python `bulkcopy_arrow` (TDS bulk copy from the Arrow buffers, Rust core, own connection;
   the staging table is committed before it starts, as its docs require),
2. `bcp` with a generated format file (loader/targets/mssql_bcp.py),
3. pyodbc fast_executemany (loader/targets/odbc.py), which always works.
`database.bulk_path` overrides the choice.
"""

from __future__ import annotations

import contextlib
import importlib.util
from collections.abc import Iterable, Iterator, Sequence
from typing import Any

import pyarrow as pa

from ..coltypes import Column
from ..errors import ConfigError, LoaderError, TableBusyError
from ..track import TRACKING_COLUMNS, TRACKING_TABLE
from . import mssql_bcp, odbc
from .base import Capabilities, PublishPlan, PublishTx, RowLocator, batches_of, no_direct_append, stages_of
from .claims import Claims
from .mssql_conn import MssqlConn, parse_target
from .sql import mssql as sql
from .sql.claims import CLAIMS_TABLE
from .tracker import Tracker

__all__ = ["MssqlTarget", "choose_path", "connect", "parse_target"]

# Deadlock victim (1205) and lock request timeout (1222) are TableBusyError: the publish is retried, not failed.
PUBLISH_ATTEMPTS = 3  # with 1 s, 2 s backoff: a reader's Sch-S usually clears within that
BULKCOPY_BATCH_ROWS = 50_000  # rows per TDS batch: what Sling and bcp users settle on (5-50k)


def choose_path(wanted: str, has_bulkcopy: bool, has_bcp: bool) -> str:
    """auto: bulkcopy > bcp > odbc. An explicit choice that is not installed is a configuration error."""
    if wanted == "auto":
        return "bulkcopy" if has_bulkcopy else "bcp" if has_bcp else "odbc"
    if wanted == "bulkcopy" and not has_bulkcopy:
        raise ConfigError("database.bulk_path = bulkcopy needs the mssql-python package (pip install loader[mssql])")
    if wanted == "bcp" and not has_bcp:
        raise ConfigError("database.bulk_path = bcp needs the bcp tool on PATH (mssql-tools18)")
    return wanted


class OdbcSession:
    """The pyodbc control connection; autocommit except inside `transaction()`."""

    def __init__(self, conn: Any):
        self.conn = conn

    def cursor(self, statement: str, params: Sequence[object]) -> Any:
        try:
            return self.conn.cursor().execute(statement, *params)
        except Exception as e:
            raise odbc.map_error(e, "SQL Server", odbc.MSSQL_CODES) from None

    def execute(self, statement: str, params: Sequence[object] = ()) -> int:
        return int(self.cursor(statement, params).rowcount)

    def query(self, statement: str, params: Sequence[object] = ()) -> list[tuple[Any, ...]]:
        return [tuple(r) for r in self.cursor(statement, params).fetchall()]

    def dicts(self, statement: str, params: Sequence[object] = ()) -> list[dict[str, object]]:
        cur = self.cursor(statement, params)
        names = [d[0] for d in cur.description]
        return [dict(zip(names, row)) for row in cur.fetchall()]

    @contextlib.contextmanager
    def transaction(self) -> Iterator[None]:
        self.conn.autocommit = False
        try:
            yield
            self.conn.commit()
        except BaseException:
            with contextlib.suppress(Exception):
                self.conn.rollback()
            raise
        finally:
            with contextlib.suppress(Exception):
                self.conn.autocommit = True


class MssqlTarget:
    # appends go through staging (insert-select in the publish transaction); a swap waits for readers'
    # Sch-S locks and may lose a deadlock: PUBLISH_ATTEMPTS tries
    capabilities = Capabilities(name="SQL Server", publish_attempts=PUBLISH_ATTEMPTS)
    append_direct = no_direct_append

    def __init__(self, conn: MssqlConn, schemas: dict[str, str], lock_timeout_s: float = 30.0,
                 bulk_path: str = "auto"):
        self.info, self.schemas, self.lock_timeout_s = conn, schemas, lock_timeout_s
        self.path = choose_path(bulk_path, importlib.util.find_spec("mssql_python") is not None,
                                mssql_bcp.available())
        self.conn = self._connect(autocommit=True)
        self.session = OdbcSession(self.conn)
        self.track = sql.qualified(schemas["tracking"], TRACKING_TABLE)
        self._tracker = Tracker(self.session, sql.tracking(schemas["tracking"]),
                                claims=Claims(self.session, sql.claims(schemas["tracking"])))
        self._columns: dict[tuple[str, str], list[Column]] = {}
        self._wide: dict[tuple[str, str], set[str]] = {}

    @property
    def tracker(self) -> Tracker:
        return self._tracker

    def _connect(self, autocommit: bool) -> Any:
        pyodbc = odbc.import_pyodbc()

        try:
            return pyodbc.connect(self.info.odbc_string(), autocommit=autocommit, timeout=15)
        except pyodbc.Error as e:
            error = odbc.map_error(e, "SQL Server", odbc.MSSQL_CODES, connecting=True)
            raise type(error)(f"cannot connect to SQL Server: {odbc.first_line(e)}", sqlstate=error.sqlstate) from None

    def _run(self, statement: str, *params: Any) -> Any:
        return self.session.cursor(statement, params)

    # -- setup ------------------------------------------------------------------------------------
    def ensure_ready(self) -> None:
        with self.session.transaction():
            self._applock("loader:setup", "Transaction", 60_000)
            for schema in dict.fromkeys(self.schemas.values()):
                self._run(sql.ensure_schema_sql(), schema, sql.create_schema_sql(schema))
            create, index = sql.tracking_table_sql(self.schemas["tracking"], TRACKING_TABLE)
            self._run(create, self.track)
            added = sql.add_tracking_columns_sql(self.schemas["tracking"], TRACKING_TABLE)
            for statement, (name, _) in zip(added, [c for c in TRACKING_COLUMNS if c[1] != "key"]):
                self._run(statement, self.track, name)  # columns added by newer versions of loader
            self._run(index, self.track)
            self._run(self._tracker.claims.sql.create, sql.qualified(self.schemas["tracking"], CLAIMS_TABLE))  # type: ignore[union-attr]

    def _applock(self, resource: str, owner: str, timeout_ms: int) -> None:
        granted = self._run(sql.getapplock_sql(), resource, owner, timeout_ms).fetchone()[0]
        if granted < 0:
            raise TableBusyError(f"SQL Server application lock {resource!r} not granted (code {granted})")

    def drop_leftover_stages(self, schema: str, load_ids: Iterable[str]) -> list[str]:
        dropped = stages_of(self._tables(schema), load_ids)
        for table in dropped:
            self.drop_stage(schema, table)
        return dropped

    # -- locking --------------------------------------------------------------------------
    @contextlib.contextmanager
    def lock_table(self, schema: str, table: str, wait_s: float) -> Iterator[None]:
        resource = f"loader:{schema}.{table}"
        try:
            self._applock(resource, "Session", int(wait_s * 1000))
        except TableBusyError:
            raise TableBusyError(f"table {schema}.{table} is being loaded by another process; "
                                 f"waited {wait_s:.0f}s") from None
        try:
            yield
        finally:
            with contextlib.suppress(LoaderError):
                self._run(sql.releaseapplock_sql(), resource)

    # -- staging --------------------------------------------------------------------------
    def existing_columns(self, schema: str, table: str) -> list[Column] | None:
        rows = self._run(sql.columns_sql(), sql.qualified(schema, table)).fetchall()
        return [Column(r[0], sql.logical_type(r[1], r[2], r[3]), r[0]) for r in rows] or None

    def create_stage(self, schema: str, stage: str, columns: list[Column]) -> None:
        self._run(sql.create_table_sql(schema, stage, columns))  # autocommit: committed before any bulk copy
        self._columns[schema, stage] = list(columns)
        self._wide[schema, stage] = set()

    def _widen(self, schema: str, stage: str, column: str, width: int) -> None:
        wide = self._wide.setdefault((schema, stage), set())
        if width > sql.NVARCHAR_LIMIT and column not in wide:
            self._run(sql.widen_sql(schema, stage, column))
            wide.add(column)

    def write_stage(self, schema: str, stage: str, reader: pa.RecordBatchReader, locate: RowLocator) -> int:
        columns = self._columns.get((schema, stage)) or self.existing_columns(schema, stage) or []

        def widen(column: str, width: int) -> None:
            self._widen(schema, stage, column, width)

        if self.path == "bulkcopy":
            self._bulkcopy(schema, stage, columns, reader, widen)
        elif self.path == "bcp":
            mssql_bcp.write_via_bcp(schema, stage, columns, reader, locate, self.info.bcp_args(), widen)
        else:
            insert = odbc.insert_sql(sql.qualified(schema, stage), [sql.bracket(c.name) for c in columns])
            with contextlib.closing(self._connect(autocommit=False)) as conn:
                odbc.OdbcWriter(conn, insert, columns, "SQL Server", widen=widen, codes=odbc.MSSQL_CODES).write(
                    reader, locate)
        return int(self._run(sql.count_sql(schema, stage)).fetchone()[0])

    def _bulkcopy(self, schema: str, stage: str, columns: list[Column], reader: pa.RecordBatchReader,
                  widen: Any) -> None:
        """One bulkcopy_arrow call per run of batches that fit the table's text widths (see _Runs)."""
        import mssql_python

        runs = _Runs(batches_of(reader), columns, self._wide.get((schema, stage), set()))
        try:
            bulk_conn = mssql_python.connect(self.info.mssql_python_string(), autocommit=True)
        except Exception as e:
            raise odbc.map_error(e, "SQL Server bulk copy", odbc.MSSQL_CODES, connecting=True) from None
        with contextlib.closing(bulk_conn) as conn:
            for needs_wide, batches in runs:
                for column in needs_wide:
                    widen(column, sql.NVARCHAR_LIMIT + 1)
                cur = conn.cursor()
                try:
                    cur.bulkcopy_arrow(sql.qualified(schema, stage), batches, batch_size=BULKCOPY_BATCH_ROWS,
                                       timeout=0, table_lock=True, keep_nulls=True)
                except Exception as e:
                    raise odbc.map_error(e, "SQL Server bulk copy", odbc.MSSQL_CODES) from None
                finally:
                    cur.close()

    def drop_stage(self, schema: str, stage: str) -> None:
        self._columns.pop((schema, stage), None)
        self._wide.pop((schema, stage), None)
        self._run(sql.drop_table_sql(schema, stage))

    # -- publish --------------------------------------------------------------------------
    @contextlib.contextmanager
    def publishing(self, plan: PublishPlan) -> Iterator[PublishTx]:
        """XACT_ABORT and the lock timeout first; widened staging columns widen ref's on append."""
        with self.session.transaction():
            for statement in sql.publish_prologue_sql(int(self.lock_timeout_s * 1000)):
                self._run(statement)
            widened = frozenset(self._wide.get((plan.stage_schema, plan.stage), set()))
            yield PublishTx(self.session, sql.PUBLISH, widened)

    def _tables(self, schema: str) -> list[str]:
        return [r[0] for r in self._run(sql.tables_sql(), schema).fetchall()]

    def close(self) -> None:
        with contextlib.suppress(Exception):
            self.conn.close()


class _Runs:
    """Batches in runs that fit the table's current text widths, streamed (never the whole file in memory).

    A batch with a value wider than nvarchar(4000) ends the run; the next run names the columns
    to widen (committed DDL) before its bulk copy starts with that batch.
    """

    def __init__(self, batches: Iterator[pa.RecordBatch], columns: list[Column], wide: set[str]):
        self.batches, self.columns, self.wide = batches, columns, set(wide)
        self.pending: pa.RecordBatch | None = None

    def over(self, batch: pa.RecordBatch) -> list[str]:
        return [c.name for c, arr in zip(self.columns, batch.columns)
                if c.type.kind == "text" and c.name not in self.wide and odbc.text_width(arr) > sql.NVARCHAR_LIMIT]

    def __iter__(self) -> Iterator[tuple[list[str], Iterator[pa.RecordBatch]]]:
        while True:
            first = self.pending if self.pending is not None else next(self.batches, None)
            self.pending = None
            if first is None:
                return
            needs = self.over(first)
            self.wide.update(needs)
            yield needs, self._run(first)

    def _run(self, first: pa.RecordBatch) -> Iterator[pa.RecordBatch]:
        yield first
        for batch in self.batches:
            if self.over(batch):
                self.pending = batch
                return
            yield batch


def connect(url: str, schemas: dict[str, str], lock_timeout_s: float, bulk_path: str = "auto") -> MssqlTarget:
    try:
        conn = parse_target(url)
    except ValueError as e:
        raise ConfigError(f"database.url: not a valid SQL Server connection string ({e})") from None
    return MssqlTarget(conn, schemas, lock_timeout_s, bulk_path)

