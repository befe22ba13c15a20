"""The shared pyodbc writer's pure parts: encoding, declared sizes, chunking, bisection, errors."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pyarrow as pa
import pytest

from loader.coltypes import Column, ColumnType
from loader.errors import DatabaseRefusedError, DatabaseUnavailableError, TableBusyError
from loader.targets import odbc
from loader.targets.pg_odbc import split_url

COLS = [Column("i", ColumnType("bigint")), Column("f", ColumnType("float")), Column("b", ColumnType("boolean")),
        Column("d", ColumnType("decimal", 38, 4)), Column("dt", ColumnType("date")),
        Column("ts", ColumnType("timestamp")), Column("t", ColumnType("text"))]
SCHEMA = pa.schema([pa.field(c.name, c.type.arrow()) for c in COLS])


def batch(rows: list[tuple[object, ...]]) -> pa.RecordBatch:
    return pa.RecordBatch.from_pylist([dict(zip(SCHEMA.names, r)) for r in rows], schema=SCHEMA)


ROWS = [
    (None, None, None, None, None, None, None),  # NULL in the first row: types come from setinputsizes
    (9007199254740993, 1e300, True, Decimal("1234567890123456789012345678901234.5678"), dt.date(1, 1, 1),
     dt.datetime(2024, 1, 2, 3, 4, 5, 123456), "é 😀 東京"),
    (-5, -2.25e-5, False, Decimal("-0.0001"), dt.date(9999, 12, 31), dt.datetime(2000, 1, 1, 0, 0, 0, 1), ""),
]


def test_to_rows_keeps_every_value_exactly():
    assert odbc.to_rows(batch(ROWS)) == ROWS


def test_zoned_timestamps_travel_as_naive_utc():
    arr = pa.array([dt.datetime(2024, 1, 2, 3, 4, 5, 6, tzinfo=dt.UTC), None], pa.timestamp("us", tz="UTC"))
    b = pa.record_batch([arr], names=["tz"])
    assert odbc.to_rows(b) == [(dt.datetime(2024, 1, 2, 3, 4, 5, 6),), (None,)]
    assert odbc.input_sizes([Column("tz", ColumnType("timestamptz"))], [0]) == [(odbc.SQL_TYPE_TIMESTAMP, 26, 6)]


def test_input_sizes_declare_every_type_with_full_precision():
    widths = [0, 0, 0, 0, 0, 0, 12]
    assert odbc.input_sizes(COLS, widths) == [
        (odbc.SQL_BIGINT, 19, 0), (odbc.SQL_DOUBLE, 15, 0), (odbc.SQL_BIT, 1, 0), (odbc.SQL_DECIMAL, 38, 4),
        (odbc.SQL_TYPE_DATE, 10, 0), (odbc.SQL_TYPE_TIMESTAMP, 26, 6), (odbc.SQL_WVARCHAR, 12, 0)]


def test_input_sizes_match_pyodbc_constants():
    pyodbc = pytest.importorskip("pyodbc")
    assert (odbc.SQL_BIT, odbc.SQL_BIGINT, odbc.SQL_DOUBLE, odbc.SQL_DECIMAL, odbc.SQL_TYPE_DATE,
            odbc.SQL_TYPE_TIMESTAMP, odbc.SQL_WVARCHAR) == (
        pyodbc.SQL_BIT, pyodbc.SQL_BIGINT, pyodbc.SQL_DOUBLE, pyodbc.SQL_DECIMAL, pyodbc.SQL_TYPE_DATE,
        pyodbc.SQL_TYPE_TIMESTAMP, pyodbc.SQL_WVARCHAR)


@pytest.mark.parametrize("values, width", [
    (["abc", None], 3), ([None, None], 1), ([], 1), (["😀"], 4), (["é"], 2), (["x" * 5000], 5000)])
def test_text_width_never_below_utf16_units(values, width):
    arr = pa.array(values, pa.string())
    assert odbc.text_width(arr) == width
    assert all(odbc.text_width(arr) >= len(v.encode("utf-16-le")) // 2 for v in values if v)


def test_chunks_shrink_with_wide_text_and_stay_within_budget():
    narrow = odbc.chunk_rows(COLS, [0] * 6 + [10])
    assert narrow == odbc.CHUNK_ROWS
    wide = odbc.chunk_rows(COLS, [0] * 6 + [1_000_000])
    assert 1 <= wide < 100
    assert wide * 2 * 1_000_000 <= odbc.CHUNK_BYTES
    assert odbc.chunk_rows(COLS, [0] * 6 + [10**9]) == 1


@pytest.mark.parametrize("bad", [0, 1, 4, 5, 9, 999])
def test_bisect_finds_the_first_refused_row(bad):
    rows = [(i,) for i in range(1000)]
    probes = []

    def try_rows(chunk):
        probes.append(len(chunk))
        if any(r[0] == bad for r in chunk):
            raise ValueError("refused")

    assert odbc.bisect_bad_row(rows, try_rows) == bad
    assert len(probes) <= 10


def test_first_nul_names_row_and_column():
    b = batch([(1, None, None, None, None, None, "ok"), (2, None, None, None, None, None, "a\x00b")])
    assert odbc.first_nul(b) == (1, "t")
    assert odbc.first_nul(batch(ROWS)) is None


class FakeError(Exception):
    pass


@pytest.mark.parametrize("args, kind", [
    (("08S01", "[08S01] [driver] Communication link failure"), DatabaseUnavailableError),
    (("HYT00", "[HYT00] Query timeout expired"), TableBusyError),
    (("40001", "[40001] Transaction (Process ID 52) was deadlocked (1205)"), TableBusyError),
    (("HY000", "[HY000] Lock request time out period exceeded. (1222)"), TableBusyError),
    (("22003", "[22003] Arithmetic overflow error"), DatabaseRefusedError),
    (("String data, right truncation: length 80 buffer 40", "HY000"), DatabaseRefusedError),
])
def test_driver_errors_map_to_transient_or_terminal(args, kind):
    error = odbc.map_error(FakeError(*args), "SQL Server", codes=odbc.MSSQL_CODES)
    assert type(error) is kind
    assert error.transient == (kind is not DatabaseRefusedError)


def test_error_names_column_when_the_driver_does():
    msg = "String or binary data would be truncated in table 'd.stage.t_1', column 'name'. Truncated value: 'x'."
    assert odbc.column_in(msg, COLS + [Column("name", ColumnType("text"))]) == "name"
    assert odbc.column_in("no column here", COLS) is None


@pytest.mark.parametrize("value", ["plain", "se;cret", "{braced}", "a}b", " padded ", "p=w", ""])
def test_connection_string_round_trips(value):
    text = odbc.connection_string({"Driver": "ODBC Driver 18 for SQL Server", "PWD": value, "Server": "h,1433"})
    assert odbc.parse_connection_string(text) == {"Driver": "ODBC Driver 18 for SQL Server", "PWD": value,
                                                  "Server": "h,1433"}


def test_insert_sql_is_one_row_of_parameters():
    assert odbc.insert_sql('"s"."t"', ['"a"', '"b"']) == 'INSERT INTO "s"."t" ("a", "b") VALUES (?, ?)'


def test_pg_odbc_url_becomes_libpq_and_odbc():
    libpq, text = split_url("postgresql+pyodbc://u:p%3Bw@db.example:6543/sales?driver=PostgreSQL+Unicode&sslmode=require")
    assert libpq == "postgresql://u:p%3Bw@db.example:6543/sales?sslmode=require"
    assert odbc.parse_connection_string(text) == {"Driver": "PostgreSQL Unicode", "Server": "db.example",
                                                  "Port": "6543", "Database": "sales", "Uid": "u", "Pwd": "p;w",
                                                  "sslmode": "require"}


def test_pg_odbc_unix_socket_url():
    libpq, text = split_url("postgresql+pyodbc://postgres:@/t_1?host=/tmp/pg&driver=PostgreSQL+Unicode")
    assert "host=%2Ftmp%2Fpg" in libpq
    assert odbc.parse_connection_string(text)["Server"] == "/tmp/pg"


def test_writer_locates_a_refused_row_through_psqlodbc(pg_server_url):
    """For real: a CHECK constraint refuses one row mid-chunk; bisection names it and its probes leave nothing."""
    from tests.conftest import _pg_database, pg_odbc_url, require_pg_odbc

    require_pg_odbc()
    import psycopg
    import pyodbc

    from loader.errors import BadInputError

    for url in _pg_database(pg_server_url):
        with psycopg.connect(url, autocommit=True) as conn:
            conn.execute('CREATE TABLE t (i bigint CHECK (i <> 2777), "t" text)')
        cols = [Column("i", ColumnType("bigint")), Column("t", ColumnType("text"))]
        schema = pa.schema([("i", pa.int64()), ("t", pa.string())])
        batches = [pa.record_batch([pa.array(range(s, s + 1000)), pa.array([f"r{n}" for n in range(s, s + 1000)])],
                   schema=schema) for s in range(0, 3000, 1000)]
        reader = pa.RecordBatchReader.from_batches(schema, iter(batches))
        _, text = split_url(pg_odbc_url(url))
        conn = pyodbc.connect(text, autocommit=False)
        try:
            writer = odbc.OdbcWriter(conn, 'INSERT INTO "t" ("i", "t") VALUES (?, ?)', cols, "PostgreSQL")
            with pytest.raises(BadInputError) as info:
                writer.write(reader, lambda row, col, why: BadInputError(f"row {row}: {why}"))
        finally:
            conn.close()
        assert str(info.value).startswith("row 2778: PostgreSQL refused the row")
        with psycopg.connect(url, autocommit=True) as conn:
            assert conn.execute("SELECT count(*), max(i) FROM t").fetchone() == (2000, 1999)
