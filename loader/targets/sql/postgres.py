"""PostgreSQL statements: small pure functions, every one parsed by sqlglot's postgres dialect in tests.

Values travel as psycopg's %s parameters (ADBC's $n for the direct append, see dollar_params);
the only numbers written into the text are lock timeouts the loader computed itself.
"""

from __future__ import annotations

import hashlib
from collections.abc import Collection, Sequence

from ...coltypes import Column, ColumnType
from ...naming import quote
from ...track import TRACKING_COLUMNS, TRACKING_TABLE
from ..base import PublishPlan, PublishSql, Statement, plain
from .claims import CLAIMS_TABLE, ClaimSql, postgres_claims
from .merge import Dialect
from .tracking import Flavor, TrackingSql, tracking_sql

_DDL = {"bigint": "bigint", "float": "double precision", "boolean": "boolean", "date": "date",
        "timestamp": "timestamp", "timestamptz": "timestamptz", "text": "text"}
_TRACK_DDL = {"key": "text PRIMARY KEY", "text": "text", "bigint": "bigint", "float": "double precision",
              "timestamp": "timestamp"}
FLAVOR = Flavor(quote=quote, mark="%s", limit=" LIMIT %s", floor="'-infinity'")


def qualified(schema: str, table: str) -> str:
    return f"{quote(schema)}.{quote(table)}"


def column_ddl(col: Column) -> str:
    return f"{quote(col.name)} {sql_type(col.type)}"


def sql_type(t: ColumnType) -> str:
    return f"numeric({t.precision},{t.scale})" if t.kind == "decimal" else _DDL[t.kind]


def create_table_sql(schema: str, table: str, columns: Sequence[Column]) -> str:
    return f"CREATE TABLE {qualified(schema, table)} ({', '.join(column_ddl(c) for c in columns)})"


def logical_type(data_type: str, precision: int | None, scale: int | None) -> ColumnType:
    if data_type == "numeric" and precision is not None:
        return ColumnType("decimal", precision, scale or 0)
    return ColumnType({"bigint": "bigint", "integer": "bigint", "smallint": "bigint", "double precision": "float",
                       "real": "float", "boolean": "boolean", "date": "date",
                       "timestamp without time zone": "timestamp",
                       "timestamp with time zone": "timestamptz"}.get(data_type, "text"))


def lock_key(schema: str, table: str) -> int:
    """A stable signed 64-bit key for pg_advisory_lock, the same in every process and host."""
    return int.from_bytes(hashlib.sha256(f"loader:{schema}.{table}".encode()).digest()[:8], "big", signed=True)


def columns_sql() -> str:
    """Parameters: schema, table. Rows: name, data type, numeric precision, numeric scale."""
    return ("SELECT column_name, data_type, numeric_precision, numeric_scale FROM information_schema.columns "
            "WHERE table_schema = %s AND table_name = %s ORDER BY ordinal_position")


def tables_sql(schema: str) -> Statement:
    return "SELECT tablename FROM pg_tables WHERE schemaname = %s", (schema,)


def count_sql(schema: str, table: str) -> str:
    return f"SELECT count(*) FROM {qualified(schema, table)}"


def drop_table_sql(schema: str, table: str, if_exists: bool = False) -> str:
    return f"DROP TABLE {'IF EXISTS ' if if_exists else ''}{qualified(schema, table)}"


def lock_timeout_sql(ms: float, local: bool = False) -> str:
    """SET cannot take a parameter; the number is the loader's own setting, rendered as an int."""
    return f"SET {'LOCAL ' if local else ''}lock_timeout = {int(ms)}"


def advisory_lock_sql(xact: bool = False) -> str:
    """Parameter: lock_key(...)."""
    return f"SELECT pg_advisory{'_xact' if xact else ''}_lock(%s)"


def advisory_unlock_sql() -> str:
    return "SELECT pg_advisory_unlock(%s)"


# -- tracking table ----------------------------------------------------------------------------
def tracking(schema: str) -> TrackingSql:
    return tracking_sql(qualified(schema, TRACKING_TABLE), FLAVOR)


def claims(schema: str) -> ClaimSql:
    return postgres_claims(qualified(schema, CLAIMS_TABLE))


def create_schema_sql(schema: str) -> str:
    return f"CREATE SCHEMA IF NOT EXISTS {quote(schema)}"


def create_tracking_sql(schema: str) -> str:
    cols = ", ".join(f"{quote(n)} {_TRACK_DDL[k]}" for n, k in TRACKING_COLUMNS)
    return f"CREATE TABLE IF NOT EXISTS {qualified(schema, TRACKING_TABLE)} ({cols})"


def tracking_columns_sql() -> str:
    """Parameters: schema, table. Rows: the column names the tracking table has."""
    return "SELECT column_name FROM information_schema.columns WHERE table_schema = %s AND table_name = %s"


def add_tracking_column_sql(schema: str, name: str, kind: str) -> str:
    """A column a newer version of loader added; ALTER takes a strong lock, so only when missing."""
    return f"ALTER TABLE {qualified(schema, TRACKING_TABLE)} ADD COLUMN {quote(name)} {_TRACK_DDL[kind]}"


def tracking_index_sql(schema: str) -> str:
    return (f"CREATE INDEX IF NOT EXISTS loader_files_table ON {qualified(schema, TRACKING_TABLE)} "
            "(schema_name, table_name, status)")


# -- publish: metadata only, no row is copied --------------------------------------------------------
def retire_sql(plan: PublishPlan, backup: str | None) -> list[str]:
    """Old ref table to bkp under its backup name, or dropped when no backup is kept."""
    if not backup:
        return [drop_table_sql(plan.ref_schema, plan.table)]
    return [f"ALTER TABLE {qualified(plan.ref_schema, plan.table)} RENAME TO {quote(backup)}",
            f"ALTER TABLE {qualified(plan.ref_schema, backup)} SET SCHEMA {quote(plan.bkp_schema)}"]


def promote_sql(plan: PublishPlan) -> list[str]:
    return [f"ALTER TABLE {qualified(plan.stage_schema, plan.stage)} SET SCHEMA {quote(plan.ref_schema)}",
            f"ALTER TABLE {qualified(plan.ref_schema, plan.stage)} RENAME TO {quote(plan.table)}"]


def swap_sql(plan: PublishPlan, backup: str | None) -> list[str]:
    """Old ref table to bkp under its backup name, staging table to ref (no old table kept: promote only)."""
    return (retire_sql(plan, backup) if backup else []) + promote_sql(plan)


def append_sql(plan: PublishPlan) -> list[str]:
    cols = ", ".join(quote(c.name) for c in plan.columns)
    return [f"INSERT INTO {qualified(plan.ref_schema, plan.table)} ({cols}) "
            f"SELECT {cols} FROM {qualified(plan.stage_schema, plan.stage)}"]


def _retire(plan: PublishPlan, backup: str | None, current: Sequence[Column]) -> list[Statement]:
    return plain(*retire_sql(plan, backup))


def _append(plan: PublishPlan, widen: Collection[str]) -> list[Statement]:
    return plain(*append_sql(plan))  # text has no declared width: nothing to widen


def add_column_sql(schema: str, table: str, col: Column) -> str:
    """schema_drift = add_columns: a nullable column, so the rows already there read NULL."""
    return f"ALTER TABLE {qualified(schema, table)} ADD COLUMN {column_ddl(col)}"


def retype_sql(plan: PublishPlan) -> str:
    """widen_types: one ALTER for every widened column, so the table is rewritten once. It takes
    ACCESS EXCLUSIVE inside the publish transaction: readers wait for the commit (or see the old
    table in their own snapshot), never a half-converted one; indexes are rebuilt with it."""
    steps = ", ".join(f"ALTER COLUMN {quote(c.name)} TYPE {sql_type(c.type)} USING {quote(c.name)}::{sql_type(c.type)}"
                      for c, _ in plan.retype)
    return f"ALTER TABLE {qualified(plan.ref_schema, plan.table)} {steps}"


PUBLISH = PublishSql(retire=_retire, promote=lambda plan: plain(*promote_sql(plan)), append=_append,
                     drop=lambda schema, table: (drop_table_sql(schema, table), ()), tables=tables_sql,
                     merge=Dialect("postgres", quote, "%s", create_table_sql),
                     add_column=lambda schema, table, col: (add_column_sql(schema, table, col), ()),
                     retype=lambda plan, current, indexes: plain(retype_sql(plan)))


def copy_csv_sql(schema: str, table: str, columns: Sequence[str], delimiter: str, quote_char: str,
                 force_null: Sequence[str]) -> str:
    """COPY of raw CSV rows (no header) as the loader reads them: unquoted empty = NULL, and in the
    FORCE_NULL (typed) columns a quoted "" too. The delimiter and quote are one byte each of the
    file's own dialect; COPY takes no parameters, so they are written as escaped literals."""
    cols = ", ".join(quote(c) for c in columns)
    options = [f"FORMAT csv, DELIMITER {_literal(delimiter)}, QUOTE {_literal(quote_char)}, ENCODING 'UTF8'"]
    if force_null:
        options.append(f"FORCE_NULL ({', '.join(quote(c) for c in force_null)})")
    return f"COPY {qualified(schema, table)} ({cols}) FROM STDIN WITH ({', '.join(options)})"


def _literal(char: str) -> str:
    if len(char.encode()) != 1 or char in "\r\n\0":
        raise ValueError(f"not a one-byte COPY option: {char!r}")
    return "'" + char.replace("'", "''") + "'"


COPY_SESSION = ("SET DateStyle = 'ISO, YMD'", "SET IntervalStyle = 'postgres'")
SERVER_ENCODING_SQL = "SHOW server_encoding"


def dollar_params(statement: str) -> str:
    """psycopg's %s placeholders as the $1, $2… that ADBC's PostgreSQL driver binds."""
    parts = statement.split("%s")
    return "".join(part + (f"${i}" if i < len(parts) else "") for i, part in enumerate(parts, start=1))


def all_statements(plan: PublishPlan, backup: str) -> list[str]:
    """Every statement text the target can emit, for the postgres parse test."""
    cols = list(plan.columns)
    track = tracking("loader")
    return [create_table_sql(plan.stage_schema, plan.stage, cols), columns_sql(), tables_sql("bkp")[0],
            count_sql(plan.stage_schema, plan.stage), drop_table_sql(plan.stage_schema, plan.stage, if_exists=True),
            lock_timeout_sql(30_000), lock_timeout_sql(30_000, local=True), advisory_lock_sql(),
            advisory_lock_sql(xact=True), advisory_unlock_sql(), create_schema_sql("ref"),
            create_tracking_sql("loader"),
            tracking_columns_sql(), add_tracking_column_sql("loader", "rejects_file", "text"),
            tracking_index_sql("loader"), *retire_sql(plan, backup), *retire_sql(plan, None), *promote_sql(plan),
            *append_sql(plan), drop_table_sql(plan.bkp_schema, backup), *track.all(),
            copy_csv_sql(plan.stage_schema, plan.stage, [c.name for c in cols], ",", '"', [cols[0].name]),
            copy_csv_sql(plan.ref_schema, plan.table, [c.name for c in cols], "\t", '"', []),
            *COPY_SESSION, SERVER_ENCODING_SQL, *([retype_sql(plan)] if plan.retype else [])]
