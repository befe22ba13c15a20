"""T-SQL for the SQL Server target: small pure functions, every one parsed by sqlglot's tsql in tests.

Values never appear in the text: names of objects that T-SQL only takes as strings
(sp_rename, OBJECT_ID, sp_getapplock) travel as parameters (`?`).
"""

from __future__ import annotations

from collections.abc import Collection, Sequence

from ...coltypes import Column, ColumnType
from ...errors import UsageError
from ...track import TRACKING_COLUMNS, TRACKING_TABLE
from ..base import PublishPlan, PublishSql, Statement, plain
from .claims import CLAIMS_TABLE, ClaimSql, mssql_claims
from .merge import Dialect
from .tracking import Flavor, TrackingSql, tracking_sql

# nvarchar(n) stops at 4,000 UTF-16 code units; beyond that only nvarchar(max) holds a value.
NVARCHAR_LIMIT = 4000
MAX_COLUMNS = 1024  # SQL Server's limit for a table without sparse columns
_DDL = {"bigint": "bigint", "float": "float", "boolean": "bit", "date": "date",
        # microseconds: what Arrow timestamp("us") and the detector carry; datetime2(7) would add a 0
        "timestamp": "datetime2(6)", "timestamptz": "datetimeoffset(6)", "text": f"nvarchar({NVARCHAR_LIMIT})"}
_TRACK_DDL = {"key": "nvarchar(64) NOT NULL PRIMARY KEY", "text": "nvarchar(max) NULL", "bigint": "bigint NULL",
              "float": "float NULL", "timestamp": "datetime2(6) NULL"}
# indexed tracking columns cannot be nvarchar(max) (900-byte index key limit)
_TRACK_KEYS = {"schema_name": "nvarchar(128) NULL", "table_name": "nvarchar(128) NULL", "status": "nvarchar(16) NULL",
               "sha256": "nvarchar(64) NULL", "mode": "nvarchar(16) NULL"}


def bracket(name: str) -> str:
    """T-SQL quoted identifier: [name] with ] doubled; names are validated before they get here."""
    if "\x00" in name:
        raise UsageError(f"identifier {name!r} contains a NUL character")
    return "[" + name.replace("]", "]]") + "]"


def qualified(schema: str, table: str) -> str:
    return f"{bracket(schema)}.{bracket(table)}"


def sql_type(t: ColumnType, wide: bool = False) -> str:
    if t.kind == "decimal":
        return f"decimal({t.precision},{t.scale})"
    if t.kind == "text" and wide:
        return "nvarchar(max)"
    return _DDL[t.kind]


def create_table_sql(schema: str, table: str, columns: Sequence[Column], wide: Sequence[str] = ()) -> str:
    """A heap with no index: what minimal logging under TABLOCK needs (SQL Server docs:
    "Prerequisites for minimal logging in bulk import")."""
    if len(columns) > MAX_COLUMNS:
        raise UsageError(f"{len(columns)} columns: SQL Server tables hold at most {MAX_COLUMNS}")
    cols = ", ".join(f"{bracket(c.name)} {sql_type(c.type, c.name in wide)} NULL" for c in columns)
    return f"CREATE TABLE {qualified(schema, table)} ({cols})"


def widen_sql(schema: str, table: str, column: str) -> str:
    return f"ALTER TABLE {qualified(schema, table)} ALTER COLUMN {bracket(column)} nvarchar(max) NULL"


def ensure_schema_sql() -> str:
    """Parameters: schema name, then the CREATE SCHEMA text (CREATE SCHEMA must be alone in its batch)."""
    return "IF SCHEMA_ID(?) IS NULL EXEC (?)"


def create_schema_sql(schema: str) -> str:
    return f"CREATE SCHEMA {bracket(schema)}"


def tracking_table_sql(schema: str, table: str) -> list[str]:
    cols = ", ".join(f"{bracket(n)} {_TRACK_KEYS.get(n) or _TRACK_DDL[k]}" for n, k in TRACKING_COLUMNS)
    return [f"IF OBJECT_ID(?, 'U') IS NULL CREATE TABLE {qualified(schema, table)} ({cols})",
            f"IF NOT EXISTS (SELECT 1 FROM sys.indexes WHERE name = 'loader_files_table' AND object_id = OBJECT_ID(?))"
            f" CREATE INDEX loader_files_table ON {qualified(schema, table)} (schema_name, table_name, status)"]


def add_tracking_columns_sql(schema: str, table: str) -> list[str]:
    """Columns newer versions of loader added, for a tracking table an older one created.

    Parameters of each: the '[schema].[table]' name and the column name (COL_LENGTH takes strings).
    """
    return [f"IF COL_LENGTH(?, ?) IS NULL ALTER TABLE {qualified(schema, table)} ADD {bracket(n)} "
            f"{_TRACK_KEYS.get(n) or _TRACK_DDL[k]}" for n, k in TRACKING_COLUMNS if k != "key"]


def getapplock_sql() -> str:
    """Parameters: resource, lock owner ('Session' or 'Transaction'), timeout ms; returns >= 0 when granted."""
    return ("SET NOCOUNT ON; DECLARE @r int; EXEC @r = sp_getapplock @Resource = ?, @LockMode = 'Exclusive', "
            "@LockOwner = ?, @LockTimeout = ?; SELECT @r")


def releaseapplock_sql() -> str:
    return "EXEC sp_releaseapplock @Resource = ?, @LockOwner = 'Session'"


def publish_prologue_sql(lock_timeout_ms: int) -> list[str]:
    """XACT_ABORT: any error rolls the whole transaction back, never leaving half a swap."""
    return ["SET XACT_ABORT ON", f"SET LOCK_TIMEOUT {int(lock_timeout_ms)}"]


def rename_sql() -> str:
    """Parameters: '[schema].[old]' and the new bare name (sp_rename takes names as strings)."""
    return "EXEC sp_rename @objname = ?, @newname = ?, @objtype = 'OBJECT'"


def retire_sql(plan: PublishPlan, backup: str | None, current: Sequence[Column] = ()) -> list[Statement]:
    """ref.T -> bkp.<backup> (ALTER SCHEMA … TRANSFER, then sp_rename), or dropped when no backup is kept."""
    if not backup:
        return [(drop_table_sql(plan.ref_schema, plan.table), ())]
    return [(f"ALTER SCHEMA {bracket(plan.bkp_schema)} TRANSFER {qualified(plan.ref_schema, plan.table)}", ()),
            (rename_sql(), (qualified(plan.bkp_schema, plan.table), backup))]


def promote_sql(plan: PublishPlan) -> list[Statement]:
    return [(f"ALTER SCHEMA {bracket(plan.ref_schema)} TRANSFER {qualified(plan.stage_schema, plan.stage)}", ()),
            (rename_sql(), (qualified(plan.ref_schema, plan.stage), plan.table))]


def swap_sql(plan: PublishPlan, backup: str | None) -> list[Statement]:
    """ref.T -> bkp.<backup>, stage.S -> ref.T: metadata only (no old table kept: promote only)."""
    return (retire_sql(plan, backup) if backup else []) + promote_sql(plan)


def append_sql(plan: PublishPlan) -> str:
    cols = ", ".join(bracket(c.name) for c in plan.columns)
    return (f"INSERT INTO {qualified(plan.ref_schema, plan.table)} WITH (TABLOCK) ({cols}) "
            f"SELECT {cols} FROM {qualified(plan.stage_schema, plan.stage)}")


def widen_and_append_sql(plan: PublishPlan, widen: Collection[str]) -> list[Statement]:
    """Appending a value longer than ref's nvarchar(n): widen ref's column in the same transaction first."""
    steps: list[Statement] = [(widen_sql(plan.ref_schema, plan.table, c), ()) for c in widen]
    return steps + [(append_sql(plan), ())]


def tracking(schema: str) -> TrackingSql:
    return tracking_sql(qualified(schema, TRACKING_TABLE), FLAVOR)


def claims(schema: str) -> ClaimSql:
    return mssql_claims(qualified(schema, CLAIMS_TABLE))


FLAVOR = Flavor(quote=bracket, mark="?", top="TOP (?) ", floor="CAST('0001-01-01' AS datetime2(6))")


def add_column_sql(schema: str, table: str, col: Column) -> str:
    """schema_drift = add_columns: a nullable column, so the rows already there read NULL."""
    return f"ALTER TABLE {qualified(schema, table)} ADD {bracket(col.name)} {sql_type(col.type)} NULL"


def retype_sql(plan: PublishPlan) -> list[str]:
    """widen_types: ALTER COLUMN per widened column, under the publish transaction's table lock (a
    size-of-data operation for most changes). SQL Server refuses to alter a column an index uses,
    which is why the loader never widens a merge key."""
    return [f"ALTER TABLE {qualified(plan.ref_schema, plan.table)} ALTER COLUMN {bracket(c.name)} "
            f"{sql_type(c.type)} NULL" for c, _ in plan.retype]


PUBLISH = PublishSql(retire=retire_sql, promote=promote_sql, append=widen_and_append_sql,
                     drop=lambda schema, table: (drop_table_sql(schema, table), ()),
                     tables=lambda schema: (tables_sql(), (schema,)),
                     merge=Dialect("tsql", bracket, "?", create_table_sql),
                     add_column=lambda schema, table, col: (add_column_sql(schema, table, col), ()),
                     retype=lambda plan, current, indexes: plain(*retype_sql(plan)),
                     widen=lambda plan, names: [(widen_sql(plan.ref_schema, plan.table, c), ()) for c in names])



def drop_table_sql(schema: str, table: str) -> str:
    return f"DROP TABLE IF EXISTS {qualified(schema, table)}"


def columns_sql() -> str:
    """Parameter: '[schema].[table]'. Rows: name, type name, precision, scale, max_length (bytes, -1 = max)."""
    return ("SELECT c.name, t.name, c.precision, c.scale, c.max_length FROM sys.columns c "
            "JOIN sys.types t ON t.user_type_id = c.user_type_id WHERE c.object_id = OBJECT_ID(?) ORDER BY c.column_id")


def tables_sql() -> str:
    return "SELECT t.name FROM sys.tables t WHERE t.schema_id = SCHEMA_ID(?)"


def count_sql(schema: str, table: str) -> str:
    return f"SELECT COUNT_BIG(*) FROM {qualified(schema, table)}"


def logical_type(type_name: str, precision: int | None, scale: int | None) -> ColumnType:
    """An existing table's column, seen as the loader's logical type (append conforms to it)."""
    t = type_name.lower()
    if t in ("decimal", "numeric") and precision:
        return ColumnType("decimal", precision, scale or 0)
    return ColumnType({"bigint": "bigint", "int": "bigint", "smallint": "bigint", "tinyint": "bigint",
                       "float": "float", "real": "float", "bit": "boolean", "date": "date",
                       "datetime2": "timestamp", "datetime": "timestamp", "smalldatetime": "timestamp",
                       "datetimeoffset": "timestamptz"}.get(t, "text"))


def all_statements(plan: PublishPlan, backup: str) -> list[str]:
    """Every statement text the target can emit, for the tsql parse test."""
    cols = list(plan.columns)
    steps = [*retire_sql(plan, backup), *retire_sql(plan, None), *promote_sql(plan),
             *widen_and_append_sql(plan, [cols[0].name])]
    return [*(s for s, _ in steps), create_table_sql(plan.stage_schema, plan.stage, cols),
            widen_sql("stage", plan.stage, cols[0].name),
            ensure_schema_sql(), create_schema_sql(plan.ref_schema), *tracking_table_sql("loader", "loader_files"),
            *add_tracking_columns_sql("loader", "loader_files"),
            getapplock_sql(), releaseapplock_sql(), *publish_prologue_sql(30_000), rename_sql(),
            *(s for s, _ in swap_sql(plan, backup)), append_sql(plan), drop_table_sql(plan.bkp_schema, backup),
            columns_sql(), tables_sql(), count_sql(plan.stage_schema, plan.stage), *tracking("loader").all(),
            *retype_sql(plan)]
