"""SQLite statements: small pure functions, every one parsed by sqlglot's sqlite dialect in tests.

Schemas are attached database files, so `"ref"."t"` names a table in loader.ref.db; the
tracking table lives in the main file. Values only ever travel as `?` parameters.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Sequence
from dataclasses import replace

from ...coltypes import Column, ColumnType
from ...naming import quote
from ...track import TRACKING_COLUMNS, TRACKING_TABLE
from ..base import PublishPlan, PublishSql, Statement, plain
from .merge import Dialect
from .tracking import Flavor, tracking_sql

_DDL = {"bigint": "INTEGER", "float": "REAL", "boolean": "BOOLEAN", "date": "DATE",
        "timestamp": "TIMESTAMP", "timestamptz": "TIMESTAMPTZ", "text": "TEXT"}
# Decimals are stored as exact text: SQLite's NUMERIC affinity would round them to 15 digits.
# The declared name contains TEXT, which gives TEXT affinity, and keeps (p,s) visible.
_DECIMAL = re.compile(r"^DECIMAL_TEXT\((\d+),(\d+)\)$")
_TRACK_DDL = {"key": "TEXT PRIMARY KEY", "text": "TEXT", "bigint": "INTEGER", "float": "REAL", "timestamp": "TEXT"}
TRACK = f"main.{quote(TRACKING_TABLE)}"
TRACKING = tracking_sql(TRACK, Flavor(quote=quote, mark="?", limit=" LIMIT ?"))


def qualified(schema: str, table: str) -> str:
    return f"{quote(schema)}.{quote(table)}"


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


def create_table_sql(schema: str, table: str, columns: Sequence[Column]) -> str:
    return f"CREATE TABLE {qualified(schema, table)} ({', '.join(column_ddl(c) for c in columns)})"


def copy_sql(dst_schema: str, dst: str, src_schema: str, src: str, names: list[str]) -> str:
    cols = ", ".join(quote(n) for n in names)
    return f"INSERT INTO {qualified(dst_schema, dst)} ({cols}) SELECT {cols} FROM {qualified(src_schema, src)}"


def drop_table_sql(schema: str, table: str) -> str:
    return f"DROP TABLE {qualified(schema, table)}"


def count_sql(schema: str, table: str) -> str:
    return f"SELECT count(*) FROM {qualified(schema, table)}"


def table_info_sql(schema: str, table: str) -> str:
    """Rows: cid, name, declared type, notnull, default, pk."""
    return f"PRAGMA {quote(schema)}.table_info({quote(table)})"


def tables_sql(schema: str) -> Statement:
    return f"SELECT name FROM {quote(schema)}.sqlite_master WHERE type = 'table'", ()


# -- connection and transaction ---------------------------------------------------------------
def attach_sql(schema: str) -> str:
    """Parameter: the file's path."""
    return f"ATTACH DATABASE ? AS {quote(schema)}"


def detach_sql(schema: str) -> str:
    return f"DETACH DATABASE {quote(schema)}"


def journal_sql(schema: str) -> str:
    """A rollback journal, never WAL: only it commits a transaction over attached files atomically."""
    return f"PRAGMA {quote(schema)}.journal_mode = DELETE"


BEGIN, COMMIT, ROLLBACK = "BEGIN IMMEDIATE", "COMMIT", "ROLLBACK"
# a per-load stage file is scratch: a crash deletes it, so it needs no journal and no fsync
SCRATCH_PRAGMAS = ("PRAGMA journal_mode = OFF", "PRAGMA synchronous = OFF")


# -- tracking table ----------------------------------------------------------------------------
def create_tracking_sql() -> str:
    cols = ", ".join(f"{quote(n)} {_TRACK_DDL[k]}" for n, k in TRACKING_COLUMNS)
    return f"CREATE TABLE IF NOT EXISTS {TRACK} ({cols})"


def add_tracking_column_sql(name: str, kind: str) -> str:
    """A column a newer version of loader added, for a tracking table an older one created."""
    return f"ALTER TABLE {TRACK} ADD COLUMN {quote(name)} {_TRACK_DDL[kind]}"


def tracking_index_sql() -> str:
    return (f"CREATE INDEX IF NOT EXISTS main.loader_files_table ON {quote(TRACKING_TABLE)} "
            "(schema_name, table_name, status)")


# -- publish: SQLite has no schema transfer, so the swap copies between the attached files ----------
def retire_sql(plan: PublishPlan, backup: str | None, current: Sequence[Column]) -> list[Statement]:
    keep = [create_table_sql(plan.bkp_schema, backup, current),
            copy_sql(plan.bkp_schema, backup, plan.ref_schema, plan.table, [c.name for c in current])] if backup else []
    return plain(*keep, drop_table_sql(plan.ref_schema, plan.table))


def promote_sql(plan: PublishPlan) -> list[Statement]:
    return plain(create_table_sql(plan.ref_schema, plan.table, plan.columns), _from_stage(plan))


def append_sql(plan: PublishPlan, widen: Collection[str]) -> list[Statement]:
    """SQLite text has no declared width: nothing to widen."""
    return plain(_from_stage(plan))


def _from_stage(plan: PublishPlan) -> str:
    return copy_sql(plan.ref_schema, plan.table, plan.stage_schema, plan.stage, [c.name for c in plan.columns])


def add_column_sql(schema: str, table: str, col: Column) -> str:
    """schema_drift = add_columns: a nullable column, so the rows already there read NULL."""
    return f"ALTER TABLE {qualified(schema, table)} ADD COLUMN {column_ddl(col)}"


def retype_sql(plan: PublishPlan, current: Sequence[Column], indexes: Sequence[str]) -> list[Statement]:
    """widen_types. SQLite cannot change a column's type, so the table is rebuilt inside the
    publish transaction: a copy with the wider types (under the per-load stage name, unique), the
    rows converted to how the loader stores the new type, the old table dropped, the copy renamed,
    its indexes made again. The rollback journal keeps readers on the old table until commit."""
    wider = {c.name: c.type for c, _ in plan.retype}
    columns = [replace(c, type=wider.get(c.name, c.type)) for c in current]
    names = ", ".join(quote(c.name) for c in current)
    values = ", ".join(_converted(c.name, c.type, wider[c.name]) if c.name in wider else quote(c.name)
                       for c in current)
    ref, copy = plan.ref_schema, plan.stage
    return plain(create_table_sql(ref, copy, columns),
                 f"INSERT INTO {qualified(ref, copy)} ({names}) SELECT {values} FROM {qualified(ref, plan.table)}",
                 drop_table_sql(ref, plan.table), f"ALTER TABLE {qualified(ref, copy)} RENAME TO {quote(plan.table)}",
                 *(_in_schema(ref, ddl) for ddl in indexes))


def _converted(name: str, old: ColumnType, new: ColumnType) -> str:
    """A stored value as the loader would have stored it under the wider type (to_sqlite_batch):
    decimals are exact text with every digit of the scale, timestamps ISO text with microseconds."""
    q = quote(name)
    if new.kind == "text":
        return f"CASE {q} WHEN 1 THEN 'true' WHEN 0 THEN 'false' END" if old.kind == "boolean" else f"CAST({q} AS TEXT)"
    if new.kind == "decimal":
        had = (old.scale or 0) if old.kind == "decimal" else 0
        text = q if old.kind == "decimal" else f"CAST({q} AS TEXT)"
        pad = (new.scale or 0) - had
        return text if pad <= 0 else f"{text} || '{'.' if had == 0 else ''}{'0' * pad}'"
    if new.kind == "float":
        return f"CAST({q} AS REAL)"
    if new.kind == "timestamp" and old.kind == "date":
        return f"{q} || ' 00:00:00.000000'"
    return q


_INDEX_HEAD = re.compile(r"^\s*CREATE\s+(UNIQUE\s+)?INDEX\s+(IF\s+NOT\s+EXISTS\s+)?", re.IGNORECASE)


def _in_schema(schema: str, ddl: str) -> str:
    """sqlite_master keeps an index's DDL without its schema; made again, it must name it."""
    return _INDEX_HEAD.sub(lambda m: m.group(0) + f"{quote(schema)}.", ddl, count=1)


def indexes_sql(schema: str, table: str) -> Statement:
    """The DDL of a table's own indexes (automatic ones have none)."""
    return (f"SELECT sql FROM {quote(schema)}.sqlite_master WHERE type = 'index' AND tbl_name = ? "
            "AND sql IS NOT NULL", (table,))


PUBLISH = PublishSql(retire=retire_sql, promote=promote_sql, append=append_sql,
                     drop=lambda schema, table: (drop_table_sql(schema, table), ()), tables=tables_sql,
                     merge=Dialect("sqlite", quote, "?", create_table_sql),
                     add_column=lambda schema, table, col: (add_column_sql(schema, table, col), ()),
                     retype=retype_sql, indexes=indexes_sql)


def all_statements(plan: PublishPlan, backup: str) -> list[str]:
    """Every statement text the target can emit, for the sqlite parse test."""
    cols = list(plan.columns)
    steps = [*retire_sql(plan, backup, cols), *retire_sql(plan, None, cols), *promote_sql(plan), *append_sql(plan, ()),
             *retype_sql(plan, cols, ['CREATE UNIQUE INDEX "t_key_1" ON "t" ("id")']), indexes_sql("ref", "t")]
    return [create_table_sql(plan.stage_schema, plan.stage, cols), count_sql("main", plan.stage),
            table_info_sql(plan.ref_schema, plan.table), tables_sql(plan.bkp_schema)[0],
            attach_sql(plan.stage_schema), detach_sql(plan.stage_schema), journal_sql(plan.ref_schema),
            BEGIN, COMMIT, ROLLBACK, *SCRATCH_PRAGMAS, create_tracking_sql(),
            add_tracking_column_sql("rejects_file", "text"),
            tracking_index_sql(), *(s for s, _ in steps), *TRACKING.all()]
