"""SQL Server without a server: every T-SQL statement parsed by sqlglot's tsql, connection strings,
path choice, and the bcp data and format files read back.

sqlglot (30.x) does not know two valid T-SQL forms the target emits: `ALTER SCHEMA … TRANSFER`
(it falls back to an opaque Command) and the `WITH (TABLOCK)` hint on INSERT. Those are checked
token by token instead: every identifier whole, no statement separator, the hint in its place.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pyarrow as pa
import pytest
import sqlglot
from sqlglot import exp
from sqlglot.tokens import TokenType

from loader.coltypes import Column, ColumnType
from loader.config import load_settings, redact_url
from loader.errors import ConfigError, DatabaseUnavailableError, UsageError
from loader.targets import mssql, mssql_bcp, open_target
from loader.targets.base import PublishPlan
from loader.targets.mssql_conn import parse_target
from loader.targets.sql import mssql as sql

from .test_sql import HOSTILE

ALL_TYPES = [Column("b", ColumnType("boolean")), Column("i", ColumnType("bigint")),
             Column("d", ColumnType("decimal", 18, 4)), Column("f", ColumnType("float")),
             Column("dt", ColumnType("date")), Column("ts", ColumnType("timestamp")),
             Column("tz", ColumnType("timestamptz")), Column("t", ColumnType("text"))]


def parse_one(text: str) -> exp.Expression:
    parsed = sqlglot.parse(text, read="tsql", error_level=sqlglot.ErrorLevel.RAISE)
    assert len(parsed) == 1 and parsed[0] is not None, text
    return parsed[0]


def identifiers(text: str) -> list[str]:
    tokens = sqlglot.tokenize(text, read="tsql")
    assert TokenType.SEMICOLON not in {t.token_type for t in tokens}, text
    return [t.text for t in tokens if t.token_type == TokenType.IDENTIFIER]


def plan(name: str, cols: list[str], mode: str = "fullload") -> PublishPlan:
    columns = tuple(Column(c, ColumnType("bigint")) for c in cols)
    retype = ((Column(cols[0], ColumnType("decimal", 21, 2)), ColumnType("bigint")),)
    return PublishPlan(mode, "ref", "bkp", "stage", name, name + "_s", columns, 3, name + "_b", retype=retype)


# -- T-SQL ---------------------------------------------------------------------------------

def test_create_table_types():
    assert sql.create_table_sql("stage", "t", ALL_TYPES, wide=["t"]) == (
        "CREATE TABLE [stage].[t] ([b] bit NULL, [i] bigint NULL, [d] decimal(18,4) NULL, [f] float NULL, "
        "[dt] date NULL, [ts] datetime2(6) NULL, [tz] datetimeoffset(6) NULL, [t] nvarchar(max) NULL)")
    assert "nvarchar(4000)" in sql.create_table_sql("stage", "t", ALL_TYPES)
    parse_one(sql.create_table_sql("stage", "t", ALL_TYPES))


@pytest.mark.parametrize("name", HOSTILE)
def test_create_table_keeps_identifiers_whole(name):
    cols = [Column(n, ColumnType("text")) for n in (name, name + "]", "id")]
    text = sql.create_table_sql("stage", name, cols)
    create = parse_one(text)
    assert isinstance(create, exp.Create)
    assert [c.name for c in create.find_all(exp.ColumnDef)] == [name, name + "]", "id"]
    assert identifiers(text) == ["stage", name, name, name + "]", "id"]


def test_too_many_columns_refused():
    with pytest.raises(UsageError, match="at most 1024"):
        sql.create_table_sql("s", "t", [Column(f"c{i}", ColumnType("bigint")) for i in range(1025)])


@pytest.mark.parametrize("name", HOSTILE)
def test_swap_transfers_and_renames(name):
    steps = sql.swap_sql(plan(name, ["a"]), name + "_b")
    assert [identifiers(s) for s, _ in steps] == [["bkp", "ref", name], [], ["ref", "stage", name + "_s"], []]
    assert [p for _, p in steps] == [
        (), (sql.qualified("bkp", name), name + "_b"), (), (sql.qualified("ref", name + "_s"), name)]
    for text, _ in steps:
        tree = parse_one(text)
        assert isinstance(tree, exp.Command | exp.Execute), text  # TRANSFER: a Command in sqlglot 30


def test_swap_without_backup():
    steps = sql.swap_sql(plan("t", ["a"]), None)
    assert [s for s, _ in steps] == ["ALTER SCHEMA [ref] TRANSFER [stage].[t_s]",
                                     "EXEC sp_rename @objname = ?, @newname = ?, @objtype = 'OBJECT'"]
    assert steps[1][1] == ("[ref].[t_s]", "t")


@pytest.mark.parametrize("name", HOSTILE)
def test_append_with_tablock(name):
    cols = [name, "id"]
    text = sql.append_sql(plan(name, cols, "append"))
    assert identifiers(text) == ["ref", name, *cols, *cols, "stage", name + "_s"]
    hint = f"INSERT INTO {sql.qualified('ref', name)} WITH (TABLOCK) ("
    assert text.startswith(hint)
    insert = parse_one(text.replace(" WITH (TABLOCK)", "", 1))  # sqlglot lacks INSERT table hints
    assert isinstance(insert, exp.Insert)
    assert [i.name for i in insert.this.expressions] == cols


def test_every_statement_parses_as_tsql():
    batches = {sql.getapplock_sql()}  # the one multi-statement batch, checked below
    for text in sql.all_statements(plan("t", ["a", "b"]), "t_20240101000000"):
        if text in batches:
            continue
        assert parse_one(text.replace(" WITH (TABLOCK)", "", 1)) is not None
        identifiers(text)  # and no statement separator anywhere


def test_applock_batch_parses_to_four_statements():
    parsed = sqlglot.parse(sql.getapplock_sql(), read="tsql", error_level=sqlglot.ErrorLevel.RAISE)
    assert [type(p).__name__ for p in parsed] == ["Set", "Declare", "Execute", "Select"]


def test_names_travel_as_parameters_in_string_arguments():
    for text in (sql.ensure_schema_sql(), sql.rename_sql(), sql.columns_sql(), sql.tables_sql(),
                 sql.getapplock_sql(), sql.releaseapplock_sql()):
        assert "'" not in text.replace("'Exclusive'", "").replace("'OBJECT'", "").replace("'Session'", ""), text
    assert sql.create_schema_sql("we]ird") == "CREATE SCHEMA [we]]ird]"


def test_publish_prologue():
    assert sql.publish_prologue_sql(30_000) == ["SET XACT_ABORT ON", "SET LOCK_TIMEOUT 30000"]


@pytest.mark.parametrize("type_name, precision, scale, expected", [
    ("bigint", 19, 0, "bigint"), ("int", 10, 0, "bigint"), ("decimal", 18, 4, "decimal(18,4)"),
    ("float", 53, 0, "float"), ("bit", 1, 0, "boolean"), ("date", 10, 0, "date"),
    ("datetime2", 26, 6, "timestamp"), ("datetimeoffset", 34, 7, "timestamptz"), ("nvarchar", 0, 0, "text")])
def test_existing_column_types(type_name, precision, scale, expected):
    assert str(sql.logical_type(type_name, precision, scale)) == expected


# -- connections ---------------------------------------------------------------------------

def test_sqlalchemy_url():
    conn = parse_target("mssql+pyodbc://loader:p%40ss%3Bw@db.example:1433/sales?"
                        "driver=ODBC+Driver+18+for+SQL+Server&TrustServerCertificate=yes")
    assert conn.pairs == {"Driver": "ODBC Driver 18 for SQL Server", "Server": "db.example,1433",
                          "Database": "sales", "UID": "loader", "PWD": "p@ss;w", "TrustServerCertificate": "yes",
                          "Encrypt": "yes"}
    assert conn.odbc_string() == ("Driver=ODBC Driver 18 for SQL Server;Server=db.example,1433;Database=sales;"
                                  "UID=loader;PWD={p@ss;w};TrustServerCertificate=yes;Encrypt=yes;")
    assert conn.trusts_server_certificate()


def test_tls_on_by_default_and_certificate_trusted_only_when_asked():
    conn = parse_target("mssql+pyodbc://u:p@h/db")
    assert conn.get("Encrypt") == "yes" and not conn.trusts_server_certificate()
    assert "-u" not in conn.bcp_args()
    assert parse_target("mssql+pyodbc://u:p@h/db?Encrypt=no").get("Encrypt") == "no"


def test_odbc_connect_passthrough():
    conn = parse_target("mssql+pyodbc:///?odbc_connect=DRIVER%3D%7BODBC+Driver+17+for+SQL+Server%7D%3B"
                        "SERVER%3Dh%2C1433%3BDATABASE%3Dd%3BUID%3Du%3BPWD%3D%7Bx%3By%7D")
    assert conn.get("driver") == "ODBC Driver 17 for SQL Server"
    assert conn.get("pwd") == "x;y" and conn.get("server") == "h,1433"


def test_raw_odbc_string_and_mssql_python_string():
    conn = parse_target("Server=tcp:h,1433;Database=d;UID=u;PWD=s;Connection Timeout=30;TrustServerCertificate=no")
    assert conn.odbc_string().startswith("Driver=ODBC Driver 18 for SQL Server;Server=tcp:h,1433;")
    # mssql-python refuses unknown keywords: no Driver, no Connection Timeout
    assert conn.mssql_python_string() == ("Server=tcp:h,1433;Database=d;UID=u;PWD=s;TrustServerCertificate=no;"
                                          "Encrypt=yes;")
    assert conn.with_database("other").get("database") == "other"
    assert conn.get("database") == "d"


def test_bcp_arguments():
    conn = parse_target("mssql+pyodbc://u:p@h:1433/d?TrustServerCertificate=yes")
    assert conn.bcp_args() == ["-S", "h,1433", "-d", "d", "-U", "u", "-P", "p", "-u"]


@pytest.mark.parametrize("url", [
    "mssql+pyodbc://loader:s3cr%40t@h/db?driver=ODBC+Driver+18+for+SQL+Server",
    "mssql+pyodbc:///?odbc_connect=DRIVER%3Dx%3BSERVER%3Dh%3BUID%3Du%3BPWD%3Ds3cr%40t%3BDATABASE%3Dd",
    "Driver={ODBC Driver 18 for SQL Server};Server=h;UID=u;PWD={s3cr@t;x};Database=d",
])
def test_passwords_never_in_messages(url):
    assert "s3cr" not in redact_url(url)


def test_unreachable_server_is_unavailable_without_password():
    settings = load_settings(config_path=None, environ={}, dotenv_path=None, flags={
        "database.url": "mssql+pyodbc://u:s3cret@127.0.0.1:9/db?driver=ODBC+Driver+18+for+SQL+Server",
        "database.bulk_path": "odbc"})
    with pytest.raises(DatabaseUnavailableError) as info:
        open_target(settings)
    assert "s3cret" not in str(info.value)


def test_bulk_path_setting_is_validated():
    with pytest.raises(ConfigError, match="bulk_path"):
        load_settings(config_path=None, environ={}, dotenv_path=None, flags={"database.bulk_path": "fast"})


@pytest.mark.parametrize("wanted, bulkcopy, bcp, chosen", [
    ("auto", True, True, "bulkcopy"), ("auto", False, True, "bcp"), ("auto", False, False, "odbc"),
    ("odbc", True, True, "odbc"), ("bcp", True, True, "bcp"), ("bulkcopy", True, False, "bulkcopy")])
def test_path_choice(wanted, bulkcopy, bcp, chosen):
    assert mssql.choose_path(wanted, bulkcopy, bcp) == chosen


@pytest.mark.parametrize("wanted", ["bulkcopy", "bcp"])
def test_missing_path_is_a_config_error(wanted):
    with pytest.raises(ConfigError):
        mssql.choose_path(wanted, False, False)


# -- bulk copy runs ------------------------------------------------------------------------

def test_runs_split_only_where_a_column_must_widen():
    cols = [Column("t", ColumnType("text"))]
    schema = pa.schema([pa.field("t", pa.string())])
    batches = [pa.record_batch([pa.array(v)], schema=schema)
               for v in (["a"], ["b"], ["x" * 5000], ["c"], ["y" * 9000])]
    runs = [(needs, [b.column(0)[0].as_py()[:1] for b in run])
            for needs, run in mssql._Runs(iter(batches), cols, set())]
    assert runs == [([], ["a", "b"]), (["t"], ["x", "c", "y"])]


# -- bcp files -----------------------------------------------------------------------------

BCP_COLS = ALL_TYPES
UTC = dt.UTC
BCP_ROWS = [
    (True, 9007199254740993, Decimal("-12345678901234.5678"), 1e300, dt.date(1, 1, 1),
     dt.datetime(2024, 1, 2, 3, 4, 5, 123456), dt.datetime(2024, 1, 2, 1, 4, 5, 1, tzinfo=UTC),
     "comma, \"quote\"\nnew line\ttab é 😀"),
    (None, None, None, None, None, None, None, None),
    (False, -5, Decimal("0.0000"), -2.25e-5, dt.date(9999, 12, 31), dt.datetime(2000, 1, 1),
     dt.datetime(2000, 1, 1, tzinfo=UTC), ""),
]


def bcp_batch(rows):
    schema = pa.schema([pa.field(c.name, c.type.arrow()) for c in BCP_COLS])
    return pa.RecordBatch.from_pylist([dict(zip(schema.names, r)) for r in rows], schema=schema)


def read_back(data: bytes) -> list[list[str | None]]:
    """How bcp reads the file: split on terminators; empty field = NULL (-k), one NUL = empty string."""
    text = data.decode("utf-8")
    assert text.endswith(mssql_bcp.ROW_TERMINATOR)
    rows = text[:-len(mssql_bcp.ROW_TERMINATOR)].split(mssql_bcp.ROW_TERMINATOR)
    return [[None if f == "" else "" if f == "\x00" else f for f in r.split(mssql_bcp.FIELD_TERMINATOR)]
            for r in rows]


def test_bcp_data_file_reads_back():
    data, bad = mssql_bcp.encode_batch(bcp_batch(BCP_ROWS))
    assert bad is None
    assert read_back(data) == [
        ["1", "9007199254740993", "-12345678901234.5678", "1e+300", "0001-01-01", "2024-01-02 03:04:05.123456",
         "2024-01-02 01:04:05.000001", "comma, \"quote\"\nnew line\ttab é 😀"],
        [None] * 8,
        ["0", "-5", "0.0000", "-0.0000225", "9999-12-31", "2000-01-01 00:00:00.000000",
         "2000-01-01 00:00:00.000000", ""],
    ]
    assert float(read_back(data)[0][3]) == 1e300


@pytest.mark.parametrize("value", ["a~|b", "x\x00y"])
def test_bcp_refuses_values_it_cannot_carry(value):
    _, bad = mssql_bcp.encode_batch(bcp_batch([BCP_ROWS[2], BCP_ROWS[2][:-1] + (value,)]))
    assert bad is not None and bad[:2] == (1, "t")


def test_bcp_format_file_reads_back():
    cols = [Column("id", ColumnType("bigint")), Column("na]me", ColumnType("text"))]
    lines = mssql_bcp.format_file(cols).splitlines()
    assert lines[0] == "14.0" and lines[1] == "2"
    fields = [line.split("\t") for line in lines[2:]]
    assert [f[0] for f in fields] == ["1", "2"] and [f[5] for f in fields] == ["1", "2"]
    assert [f[1] for f in fields] == ["SQLCHAR", "SQLCHAR"]
    assert fields[0][4] == '"~|^"' and fields[1][4] == '"~|^\\n"'
    assert [f[6] for f in fields] == ["c1", "c2"]  # by position; names with spaces would break the file


def test_bcp_command_takes_tablock_and_batches():
    cmd = mssql_bcp.bcp_command("stage", "t_1", "/tmp/d", "/tmp/f", "/tmp/e", ["-S", "h"])
    assert cmd[:3] == ["bcp", "[stage].[t_1]", "in"]
    assert cmd[cmd.index("-h") + 1] == "TABLOCK" and cmd[cmd.index("-b") + 1] == "50000"
    assert "-k" in cmd and cmd[cmd.index("-C") + 1] == "65001"


def test_bcp_error_file_gives_row_and_column():
    text = "#@ Row 150001, Column 1: Invalid character value for cast specification @#\n15O000~|^row~|^1.25\n"
    assert mssql_bcp.parse_errors(text) == (150001, 1, "Invalid character value for cast specification")
    assert mssql_bcp.parse_errors("") is None


def test_mssql_python_accepts_the_generated_string():
    """Its parser refuses unknown keywords; ours must pass its validating parser unchanged.

    (A real connect attempt would prove the same but costs 15 s against a closed port.)
    """
    pytest.importorskip("mssql_python")
    from mssql_python.connection_string_parser import _ConnectionStringParser

    conn = parse_target("mssql+pyodbc://u:s3cret@127.0.0.1:9/db?driver=ODBC+Driver+18+for+SQL+Server"
                        "&Connection+Timeout=1&ConnectRetryCount=0&TrustServerCertificate=yes")
    parsed = _ConnectionStringParser(validate_keywords=True)._parse(conn.mssql_python_string())
    assert {k.lower() for k in parsed} == {"server", "database", "uid", "pwd", "connectretrycount",
                                           "trustservercertificate", "encrypt"}
