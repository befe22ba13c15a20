"""SQLite, the embedded default: one database file per schema, attached under its name.

Layout for url sqlite:///data/loader.db:
  data/loader.db             main file: the tracking table
  data/loader.<schema>.db    one file per schema (ref, bkp), attached as <schema>
  data/loader.stage/<t>.db   one scratch file per load, so parallel loads never share a writer
  data/loader.locks/         per-table lock files

Atomicity: every file uses a rollback journal (never WAL), because SQLite commits a
transaction that spans attached files atomically only through a super-journal, which WAL
mode does not use. Bulk path: ADBC's SQLite ingest (measured ~1.7x stdlib executemany),
into the per-load stage file; publish copies stage -> ref inside one transaction.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import fcntl
import hashlib
import re
import sqlite3
import time
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from ..coltypes import Column, ColumnType, Status
from ..errors import DatabaseRefusedError, DatabaseUnavailableError, LoaderError, TableBusyError
from ..naming import quote
from ..track import TRACKING_COLUMNS, TRACKING_TABLE, LoadRecord
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

_DDL = {"bigint": "INTEGER", "float": "REAL", "boolean": "BOOLEAN", "date": "DATE",
        "timestamp": "TIMESTAMP", "timestamptz": "TIMESTAMPTZ", "text": "TEXT"}
# Decimals are stored as exact text: SQLite's NUMERIC affinity would round them to 15 digits.
# The declared name contains TEXT, which gives TEXT affinity, and keeps (p,s) visible.
_DECIMAL = re.compile(r"^DECIMAL_TEXT\((\d+),(\d+)\)$")
_TRACK_DDL = {"key": "TEXT PRIMARY KEY", "text": "TEXT", "bigint": "INTEGER", "float": "REAL", "timestamp": "TEXT"}


def column_ddl(col: Column) -> str:
    t = col.type
    sql_type = f"DECIMAL_TEXT({t.precision},{t.scale})" if t.kind == "decimal" else _DDL[t.kind]
    return f"{quote(col.name)} {sql_type}"


def logical_type(declared: str) -> ColumnType:
    d = declared.upper().replace(" ", "")
    m = _DECIMAL.match(d)
    if m:
        return ColumnType("decimal", int(m.group(1)), int(m.group(2)))
    reverse = {v: k for k, v in _DDL.items()} | {"INT": "bigint", "BIGINT": "bigint", "DOUBLE": "float"}
    return ColumnType(reverse.get(d, "text"))


def create_table_sql(schema: str, table: str, columns: list[Column] | tuple[Column, ...]) -> str:
    return f"CREATE TABLE {quote(schema)}.{quote(table)} ({', '.join(column_ddl(c) for c in columns)})"


def copy_sql(dst_schema: str, dst: str, src_schema: str, src: str, names: list[str]) -> str:
    cols = ", ".join(quote(n) for n in names)
    return f"INSERT INTO {quote(dst_schema)}.{quote(dst)} ({cols}) SELECT {cols} FROM {quote(src_schema)}.{quote(src)}"


def to_sqlite_batch(batch: pa.RecordBatch) -> pa.RecordBatch:
    """SQLite has no decimal/date types: exact text for those, 0/1 for booleans."""
    arrays, fields = [], []
    for f, arr in zip(batch.schema, batch.columns):
        if pa.types.is_decimal(f.type) or pa.types.is_date(f.type) or pa.types.is_timestamp(f.type):
            arr = pc.cast(arr, pa.string())
        elif pa.types.is_boolean(f.type):
            arr = pc.cast(arr, pa.int64())
        arrays.append(arr)
        fields.append(pa.field(f.name, arr.type))
    return pa.RecordBatch.from_arrays(arrays, schema=pa.schema(fields))


class SqliteTarget:
    kind = "sqlite"
    direct_append = False  # appends go through staging (insert-select in the publish transaction)
    append_direct = no_direct_append

    @property
    def tracker(self) -> Any:
        """The tracking store on this target's control connection (its own object in targets/tracker.py)."""
        return self

    def __init__(self, path: str, schemas: list[str], tracking_schema: str = "main", lock_timeout_s: float = 30.0):
        self.path = Path(path)
        self.base = self.path.with_suffix("")
        self.schemas = list(dict.fromkeys(schemas))
        self.lock_timeout_s = lock_timeout_s
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.stage_dir = Path(f"{self.base}.stage")
        self.lock_dir = Path(f"{self.base}.locks")
        self.conn = self._connect()

    def schema_file(self, schema: str) -> Path:
        return Path(f"{self.base}.{schema}.db")

    def stage_file(self, stage: str) -> Path:
        return self.stage_dir / f"{stage}.db"

    def _connect(self) -> sqlite3.Connection:
        try:
            conn = sqlite3.connect(self.path, isolation_level=None, timeout=self.lock_timeout_s)
            conn.execute("PRAGMA journal_mode=DELETE")
            for schema in self.schemas:
                conn.execute("ATTACH DATABASE ? AS " + quote(schema), (str(self.schema_file(schema)),))
                conn.execute(f"PRAGMA {quote(schema)}.journal_mode=DELETE")
            return conn
        except sqlite3.Error as e:
            raise DatabaseUnavailableError(f"cannot open SQLite database {self.path}: {e}") from None

    # -- setup and tracking -------------------------------------------------------------
    def ensure_ready(self) -> None:
        cols = ", ".join(f"{quote(n)} {_TRACK_DDL[k]}" for n, k in TRACKING_COLUMNS)
        self.conn.execute(f"CREATE TABLE IF NOT EXISTS main.{quote(TRACKING_TABLE)} ({cols})")
        have = {r[1] for r in self.conn.execute(f"PRAGMA main.table_info({quote(TRACKING_TABLE)})")}
        for name, kind in TRACKING_COLUMNS:  # columns added by newer versions of loader
            if name not in have:
                table = f"main.{quote(TRACKING_TABLE)}"
                self.conn.execute(f"ALTER TABLE {table} ADD COLUMN {quote(name)} {_TRACK_DDL[kind]}")
        self.conn.execute(f"CREATE INDEX IF NOT EXISTS main.loader_files_table ON {quote(TRACKING_TABLE)}"
                          " (schema_name, table_name, status)")

    def record_start(self, rec: LoadRecord) -> None:
        names = [n for n, _ in TRACKING_COLUMNS]
        sql = (f"INSERT INTO main.{quote(TRACKING_TABLE)} ({', '.join(map(quote, names))}) "
               f"VALUES ({', '.join('?' * len(names))})")
        self._write(sql, [_sqlite_value(v) for v in rec.values()])

    def record_end(self, rec: LoadRecord) -> None:
        self._write(*_update_sql(rec))

    def _write(self, sql: str, params: list[object]) -> None:
        try:
            self.conn.execute(sql, params)
        except sqlite3.OperationalError as e:
            raise _map_error(e) from None

    def find_duplicate(self, sha256: str, schema: str, table: str) -> str | None:
        t = f"main.{quote(TRACKING_TABLE)}"
        row = self.conn.execute(
            f"SELECT max(finished_at) FROM {t} WHERE schema_name=? AND table_name=? AND status='loaded' "
            "AND mode='fullload'", (schema, table)).fetchone()
        since = row[0] or ""
        row = self.conn.execute(
            f"SELECT load_id FROM {t} WHERE schema_name=? AND table_name=? AND sha256=? AND status='loaded' "
            "AND finished_at >= ? ORDER BY finished_at DESC LIMIT 1", (schema, table, sha256, since)).fetchone()
        return row[0] if row else None

    def recent_loads(self, limit: int) -> list[dict[str, object]]:
        sql = f"SELECT * FROM main.{quote(TRACKING_TABLE)} ORDER BY started_at DESC LIMIT ?"
        cur = self.conn.execute(sql, (limit,))
        names = [d[0] for d in cur.description]
        return [dict(zip(names, row)) for row in cur.fetchall()]

    def _rows(self, sql: str, params: tuple[object, ...] = ()) -> list[dict[str, object]]:
        cur = self.conn.execute(sql, params)
        names = [d[0] for d in cur.description]
        return [dict(zip(names, row)) for row in cur.fetchall()]

    def loads_of_file(self, file_path: str) -> list[dict[str, object]]:
        return self._rows(f"SELECT * FROM main.{quote(TRACKING_TABLE)} WHERE file_path = ? ORDER BY started_at",
                          (file_path,))

    def unfinished_loads(self) -> list[dict[str, object]]:
        return self._rows(f"SELECT * FROM main.{quote(TRACKING_TABLE)} WHERE status = 'loading'")

    def mark_interrupted(self, load_id: str, reason: str) -> bool:
        try:
            cur = self.conn.execute(
                f"UPDATE main.{quote(TRACKING_TABLE)} SET status = 'failed', error = ?, finished_at = ?, "
                "rows_loaded = 0, rows_rejected = rows_read WHERE load_id = ? AND status = 'loading'",
                (reason, _sqlite_value(dt.datetime.now(dt.UTC).replace(tzinfo=None)), load_id))
        except sqlite3.OperationalError as e:
            raise _map_error(e) from None
        return cur.rowcount > 0

    def drop_leftover_stages(self, schema: str, load_ids: Iterable[str]) -> list[str]:
        files = [p.stem for p in self.stage_dir.glob("*.db")] if self.stage_dir.exists() else []
        dropped = stages_of(files, load_ids)
        for stage in dropped:
            self.drop_stage(schema, stage)
        return dropped

    def summary(self, since: dt.datetime) -> list[dict[str, object]]:
        stamp = _sqlite_value(since)
        rows = self.conn.execute(summary_sql(f"main.{quote(TRACKING_TABLE)}", "?"), (stamp,) * 3).fetchall()
        return [dict(zip(SUMMARY_KEYS, r)) for r in rows]

    # -- locking --------------------------------------------------------------------------
    @contextlib.contextmanager
    def lock_table(self, schema: str, table: str, wait_s: float) -> Iterator[None]:
        self.lock_dir.mkdir(parents=True, exist_ok=True)
        key = hashlib.sha1(f"{schema}.{table}".encode()).hexdigest()
        with open(self.lock_dir / f"{key}.lock", "a+") as f:
            deadline = time.monotonic() + wait_s
            while True:
                try:
                    fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
                    break
                except BlockingIOError:
                    if time.monotonic() >= deadline:
                        raise TableBusyError(f"table {schema}.{table} is being loaded by another process; "
                                             f"waited {wait_s:.0f}s") from None
                    time.sleep(0.05)
            try:
                yield
            finally:
                fcntl.flock(f, fcntl.LOCK_UN)

    # -- staging --------------------------------------------------------------------------
    def existing_columns(self, schema: str, table: str) -> list[Column] | None:
        rows = self.conn.execute(f"PRAGMA {quote(schema)}.table_info({quote(table)})").fetchall()
        return [Column(r[1], logical_type(r[2] or "TEXT"), r[1]) for r in rows] or None

    def create_stage(self, schema: str, stage: str, columns: list[Column]) -> None:
        self.stage_dir.mkdir(parents=True, exist_ok=True)
        path = self.stage_file(stage)
        path.unlink(missing_ok=True)
        with contextlib.closing(sqlite3.connect(path, isolation_level=None)) as conn:
            conn.execute(create_table_sql("main", stage, columns))

    def write_stage(self, schema: str, stage: str, reader: pa.RecordBatchReader, locate: RowLocator) -> int:
        import adbc_driver_sqlite.dbapi as adbc_sqlite

        path = self.stage_file(stage)
        converted = (to_sqlite_batch(b) for b in batches_of(reader))
        first = next(converted, None)
        if first is None:
            return 0
        stream = pa.RecordBatchReader.from_batches(first.schema, _chain(first, converted))
        with contextlib.closing(adbc_sqlite.connect(str(path))) as conn:
            with contextlib.closing(conn.cursor()) as cur:
                cur.adbc_ingest(stage, stream, mode="append")
            conn.commit()
        # ADBC's commit has been seen to report success on an empty table: trust a count only.
        with contextlib.closing(sqlite3.connect(path)) as check:
            return int(check.execute(f"SELECT count(*) FROM {quote(stage)}").fetchone()[0])

    def drop_stage(self, schema: str, stage: str) -> None:
        for suffix in ("", "-journal"):
            Path(f"{self.stage_file(stage)}{suffix}").unlink(missing_ok=True)

    # -- publish --------------------------------------------------------------------------
    def publish(self, plan: PublishPlan, rec: LoadRecord) -> str | None:
        self.conn.execute("ATTACH DATABASE ? AS " + quote(plan.stage_schema), (str(self.stage_file(plan.stage)),))
        try:
            self.conn.execute("BEGIN IMMEDIATE")
            try:
                backup = self._publish_in_tx(plan, rec)
                self.conn.execute("COMMIT")
                return backup
            except BaseException:
                self.conn.execute("ROLLBACK")
                raise
        except sqlite3.Error as e:
            raise _map_error(e) from None
        finally:
            self.conn.execute("DETACH DATABASE " + quote(plan.stage_schema))

    def _publish_in_tx(self, plan: PublishPlan, rec: LoadRecord) -> str | None:
        names = [c.name for c in plan.columns]
        current = self.existing_columns(plan.ref_schema, plan.table)
        backup = None
        if current is not None and plan.mode == "fullload":
            if plan.backups_keep > 0:
                backup = free_backup_name(plan.backup_name, set(self._tables(plan.bkp_schema)))
                self.conn.execute(create_table_sql(plan.bkp_schema, backup, current))
                self.conn.execute(copy_sql(plan.bkp_schema, backup, plan.ref_schema, plan.table,
                                           [c.name for c in current]))
            self.conn.execute(f"DROP TABLE {quote(plan.ref_schema)}.{quote(plan.table)}")
            for old in backups_to_drop(plan.table, self._tables(plan.bkp_schema), plan.backups_keep):
                self.conn.execute(f"DROP TABLE {quote(plan.bkp_schema)}.{quote(old)}")
        if current is None or plan.mode == "fullload":
            self.conn.execute(create_table_sql(plan.ref_schema, plan.table, plan.columns))
        self.conn.execute(copy_sql(plan.ref_schema, plan.table, plan.stage_schema, plan.stage, names))
        rec.backup_table = f"{plan.bkp_schema}.{backup}" if backup else None
        rec.finish(Status.LOADED)
        self.conn.execute(*_update_sql(rec))
        return rec.backup_table

    def _tables(self, schema: str) -> list[str]:
        rows = self.conn.execute(f"SELECT name FROM {quote(schema)}.sqlite_master WHERE type='table'").fetchall()
        return [r[0] for r in rows]

    def close(self) -> None:
        self.conn.close()


def _chain(first: pa.RecordBatch, rest: Iterator[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
    yield first
    yield from rest


def _sqlite_value(v: object) -> object:
    return v.isoformat(sep=" ") if isinstance(v, dt.datetime) else v


def _update_sql(rec: LoadRecord) -> tuple[str, list[object]]:
    names = [n for n, _ in TRACKING_COLUMNS if n != "load_id"]
    values = dict(zip([n for n, _ in TRACKING_COLUMNS], rec.values()))
    sets = ", ".join(f"{quote(n)} = ?" for n in names)
    return (f"UPDATE main.{quote(TRACKING_TABLE)} SET {sets} WHERE load_id = ?",
            [_sqlite_value(values[n]) for n in names] + [rec.load_id])


def _map_error(e: sqlite3.Error) -> LoaderError:
    text = str(e)
    if isinstance(e, sqlite3.IntegrityError):
        return DatabaseRefusedError(f"SQLite refused the rows: {text}")
    if "locked" in text or "busy" in text:
        return TableBusyError(f"SQLite database is locked by another writer: {text}")
    return DatabaseRefusedError(f"SQLite error: {text}")


def connect(url: str, schemas: list[str], lock_timeout_s: float) -> SqliteTarget:
    path = url.split("sqlite:///", 1)[1] if url.startswith("sqlite:///") else url
    if not path or path == ":memory:":
        raise DatabaseUnavailableError("SQLite needs a file path (sqlite:///path/loader.db), not :memory:")
    return SqliteTarget(path, schemas, lock_timeout_s=lock_timeout_s)
