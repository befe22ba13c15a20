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
import datetime as dt
import importlib.util
import logging
import time
from collections.abc import Iterable, Iterator
from typing import Any

import pyarrow as pa

from ..coltypes import Column, Status
from ..errors import ConfigError, DatabaseUnavailableError, LoaderError, TableBusyError
from ..track import TRACKING_COLUMNS, TRACKING_TABLE, LoadRecord
from . import mssql_bcp, odbc
from .base import (
    SUMMARY_KEYS,
    PublishPlan,
    RowLocator,
    backups_to_drop,
    batches_of,
    free_backup_name,
    no_direct_append,
    stages_of,
    summary_sql,
)
from .mssql_conn import MssqlConn, parse_target
from .sql import mssql as sql

__all__ = ["MssqlTarget", "choose_path", "connect", "parse_target"]
log = logging.getLogger("loader")

# Deadlock victim (1205) and lock request timeout (1222): the publish is retried, not failed.
RETRY_ERRORS = (1205, 1222)
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


class MssqlTarget:
    kind = "mssql"
    direct_append = False  # appends go through staging (insert-select in the publish transaction)
    append_direct = no_direct_append

    @property
    def tracker(self) -> Any:
        """The tracking store on this target's control connection (its own object in targets/tracker.py)."""
        return self

    def __init__(self, conn: MssqlConn, schemas: dict[str, str], lock_timeout_s: float = 30.0,
                 bulk_path: str = "auto"):
        self.info, self.schemas, self.lock_timeout_s = conn, schemas, lock_timeout_s
        self.path = choose_path(bulk_path, importlib.util.find_spec("mssql_python") is not None,
                                mssql_bcp.available())
        self.conn = self._connect(autocommit=True)
        self.track = sql.qualified(schemas["tracking"], TRACKING_TABLE)
        self._columns: dict[tuple[str, str], list[Column]] = {}
        self._wide: dict[tuple[str, str], set[str]] = {}

    def _connect(self, autocommit: bool) -> Any:
        pyodbc = odbc.import_pyodbc()

        try:
            return pyodbc.connect(self.info.odbc_string(), autocommit=autocommit, timeout=15)
        except pyodbc.Error as e:
            raise DatabaseUnavailableError(f"cannot connect to SQL Server: {odbc.first_line(e)}") from None

    def _run(self, statement: str, *params: Any) -> Any:
        try:
            return self.conn.cursor().execute(statement, *params)
        except Exception as e:
            raise odbc.map_error(e, "SQL Server", RETRY_ERRORS) from None

    @contextlib.contextmanager
    def _tx(self) -> Iterator[None]:
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

    # -- setup and tracking -------------------------------------------------------------
    def ensure_ready(self) -> None:
        with self._tx():
            self._applock("loader:setup", "Transaction", 60_000)
            for schema in dict.fromkeys(self.schemas.values()):
                self._run(sql.ensure_schema_sql(), schema, sql.create_schema_sql(schema))
            create, index = sql.tracking_table_sql(self.schemas["tracking"], TRACKING_TABLE)
            self._run(create, self.track)
            added = sql.add_tracking_columns_sql(self.schemas["tracking"], TRACKING_TABLE)
            for statement, (name, _) in zip(added, [c for c in TRACKING_COLUMNS if c[1] != "key"]):
                self._run(statement, self.track, name)  # columns added by newer versions of loader
            self._run(index, self.track)

    def _applock(self, resource: str, owner: str, timeout_ms: int) -> None:
        granted = self._run(sql.getapplock_sql(), resource, owner, timeout_ms).fetchone()[0]
        if granted < 0:
            raise TableBusyError(f"SQL Server application lock {resource!r} not granted (code {granted})")

    def record_start(self, rec: LoadRecord) -> None:
        self._run(sql.insert_tracking_sql(self.track), *rec.values())

    def record_end(self, rec: LoadRecord) -> None:
        self._run(sql.update_tracking_sql(self.track), *_update_params(rec))

    def find_duplicate(self, sha256: str, schema: str, table: str) -> str | None:
        row = self._run(sql.duplicate_sql(self.track), schema, table, sha256, schema, table).fetchone()
        return row[0] if row else None

    def recent_loads(self, limit: int) -> list[dict[str, object]]:
        cur = self._run(sql.recent_sql(self.track, limit))
        names = [d[0] for d in cur.description]
        return [dict(zip(names, row)) for row in cur.fetchall()]

    def _dicts(self, statement: str, *params: Any) -> list[dict[str, object]]:
        cur = self._run(statement, *params)
        names = [d[0] for d in cur.description]
        return [dict(zip(names, row)) for row in cur.fetchall()]

    def loads_of_file(self, file_path: str) -> list[dict[str, object]]:
        return self._dicts(sql.loads_of_file_sql(self.track), file_path)

    def unfinished_loads(self) -> list[dict[str, object]]:
        return self._dicts(sql.unfinished_sql(self.track))

    def mark_interrupted(self, load_id: str, reason: str) -> bool:
        return bool(self._run(sql.interrupted_sql(self.track), reason, load_id).rowcount)

    def drop_leftover_stages(self, schema: str, load_ids: Iterable[str]) -> list[str]:
        dropped = stages_of(self._tables(schema), load_ids)
        for table in dropped:
            self.drop_stage(schema, table)
        return dropped

    def summary(self, since: dt.datetime) -> list[dict[str, object]]:
        rows = self._run(summary_sql(self.track, "?"), since, since, since).fetchall()
        return [dict(zip(SUMMARY_KEYS, r)) for r in rows]

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
                odbc.OdbcWriter(conn, insert, columns, "SQL Server", widen=widen).write(reader, locate)
        return int(self._run(sql.count_sql(schema, stage)).fetchone()[0])

    def _bulkcopy(self, schema: str, stage: str, columns: list[Column], reader: pa.RecordBatchReader,
                  widen: Any) -> None:
        """One bulkcopy_arrow call per run of batches that fit the table's text widths (see _Runs)."""
        import mssql_python

        runs = _Runs(batches_of(reader), columns, self._wide.get((schema, stage), set()))
        try:
            bulk_conn = mssql_python.connect(self.info.mssql_python_string(), autocommit=True)
        except Exception as e:
            raise odbc.map_error(e, "SQL Server bulk copy", RETRY_ERRORS) from None
        with contextlib.closing(bulk_conn) as conn:
            for needs_wide, batches in runs:
                for column in needs_wide:
                    widen(column, sql.NVARCHAR_LIMIT + 1)
                cur = conn.cursor()
                try:
                    cur.bulkcopy_arrow(sql.qualified(schema, stage), batches, batch_size=BULKCOPY_BATCH_ROWS,
                                       timeout=0, table_lock=True, keep_nulls=True)
                except Exception as e:
                    raise odbc.map_error(e, "SQL Server bulk copy", RETRY_ERRORS) from None
                finally:
                    cur.close()

    def drop_stage(self, schema: str, stage: str) -> None:
        self._columns.pop((schema, stage), None)
        self._wide.pop((schema, stage), None)
        self._run(sql.drop_table_sql(schema, stage))

    # -- publish --------------------------------------------------------------------------
    def publish(self, plan: PublishPlan, rec: LoadRecord) -> str | None:
        for attempt in range(1, PUBLISH_ATTEMPTS + 1):
            try:
                with self._tx():
                    return self._publish_in_tx(plan, rec)
            except TableBusyError as e:
                if attempt == PUBLISH_ATTEMPTS:
                    raise
                log.warning("publish of %s.%s: %s; retrying (%d/%d)", plan.ref_schema, plan.table, e, attempt,
                            PUBLISH_ATTEMPTS)
                time.sleep(attempt)
        return None  # not reached

    def _publish_in_tx(self, plan: PublishPlan, rec: LoadRecord) -> str | None:
        for statement in sql.publish_prologue_sql(int(self.lock_timeout_s * 1000)):
            self._run(statement)
        current = self.existing_columns(plan.ref_schema, plan.table)
        backup = None
        if current is not None and plan.mode == "fullload" and plan.backups_keep > 0:
            backup = free_backup_name(plan.backup_name, set(self._tables(plan.bkp_schema)))
        elif current is not None and plan.mode == "fullload":
            self._run(sql.drop_table_sql(plan.ref_schema, plan.table))
        if current is not None and plan.mode == "append":
            self._widen_ref(plan, current)
            self._run(sql.append_sql(plan))
        else:
            for statement, params in sql.swap_sql(plan, backup):
                self._run(statement, *params)
        for old in backups_to_drop(plan.table, self._tables(plan.bkp_schema), plan.backups_keep):
            self._run(sql.drop_table_sql(plan.bkp_schema, old))
        rec.backup_table = f"{plan.bkp_schema}.{backup}" if backup else None
        rec.finish(Status.LOADED)
        self._run(sql.update_tracking_sql(self.track), *_update_params(rec))
        return rec.backup_table

    def _widen_ref(self, plan: PublishPlan, current: list[Column]) -> None:
        """Appending a value longer than the table's nvarchar(n): widen ref's column in the same transaction."""
        for column in self._wide.get((plan.stage_schema, plan.stage), set()):
            if any(c.name == column for c in current):
                self._run(sql.widen_sql(plan.ref_schema, plan.table, column))

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


def _update_params(rec: LoadRecord) -> list[object]:
    """In update_tracking_sql's order: every column but load_id, then load_id for the WHERE."""
    values = dict(zip([n for n, _ in TRACKING_COLUMNS], rec.values()))
    return [values[n] for n, _ in TRACKING_COLUMNS if n != "load_id"] + [rec.load_id]


def connect(url: str, schemas: dict[str, str], lock_timeout_s: float, bulk_path: str = "auto") -> MssqlTarget:
    try:
        conn = parse_target(url)
    except ValueError as e:
        raise ConfigError(f"database.url: not a valid SQL Server connection string ({e})") from None
    return MssqlTarget(conn, schemas, lock_timeout_s, bulk_path)

