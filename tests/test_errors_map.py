"""Driver errors -> loader errors, per driver family, without a database.

Only the data's own faults may be DatabaseRefusedError (the file goes to failed/ as bad data);
a full disk is retried, a wrong login or grant is terminal, a cancel is an interruption.
"""

from __future__ import annotations

import pytest

from loader.errors import (
    EXIT_CONFIG,
    EXIT_IOERR,
    BadInputError,
    DatabaseAccessError,
    DatabaseFailedError,
    DatabaseRefusedError,
    DatabaseUnavailableError,
    LoadInterrupted,
    TableBusyError,
)
from loader.targets import odbc
from loader.targets.postgres import pg_error_class
from loader.targets.sqlite import sqlite_error_class
from loader.targets.sqlstate import sqlstate_class

SQLSTATES = [
    ("22001", DatabaseRefusedError), ("22P02", DatabaseRefusedError), ("22003", DatabaseRefusedError),
    ("23505", DatabaseRefusedError), ("23502", DatabaseRefusedError), ("42804", DatabaseRefusedError),
    ("53100", DatabaseFailedError), ("53200", DatabaseFailedError), ("58030", DatabaseFailedError),
    ("XX000", DatabaseFailedError),
    ("28000", DatabaseAccessError), ("28P01", DatabaseAccessError), ("42501", DatabaseAccessError),
    ("3D000", DatabaseAccessError),
    ("08006", DatabaseUnavailableError), ("08001", DatabaseUnavailableError), ("57P01", DatabaseUnavailableError),
    ("57P02", DatabaseUnavailableError), ("57P03", DatabaseUnavailableError),
    ("40001", TableBusyError), ("40P01", TableBusyError), ("55P03", TableBusyError),
    ("57014", LoadInterrupted),
    ("42601", None), ("42P01", None), (None, None), ("", None),
]


@pytest.mark.parametrize("state, cls", SQLSTATES)
def test_sqlstate_classes(state, cls):
    assert sqlstate_class(state) is cls


@pytest.mark.parametrize("state, message, link, cls", [
    *[(s, "x", False, c) for s, c in SQLSTATES if c is not None],
    (None, 'connection failed: FATAL:  password authentication failed for user "u"', True, DatabaseAccessError),
    (None, 'connection failed: FATAL:  role "nosuchrole" does not exist', True, DatabaseAccessError),
    (None, 'connection failed: FATAL:  database "nosuchdb" does not exist', True, DatabaseAccessError),
    (None, 'connection is bad: invalid sslmode value: "bogus"', True, DatabaseAccessError),
    (None, 'invalid connection option "x"', True, DatabaseAccessError),
    (None, "UNAUTHORIZED: [libpq] Failed to execute query: permission denied for schema ref", False,
     DatabaseAccessError),
    (None, "connection failed: connection to server at 127.0.0.1, port 9 failed: Connection refused", True,
     DatabaseUnavailableError),
    (None, "server closed the connection unexpectedly", True, DatabaseUnavailableError),
    (None, 'relation "t" does not exist', False, DatabaseFailedError),  # not a login: never terminal
    ("42P01", 'relation "t" does not exist', False, DatabaseFailedError),
    ("42601", "syntax error", False, DatabaseFailedError),  # a loader bug is not bad data
])
def test_postgres_errors(state, message, link, cls):
    assert pg_error_class(state, message, link) is cls


@pytest.mark.parametrize("name, message, cls", [
    ("SQLITE_CONSTRAINT_UNIQUE", "UNIQUE constraint failed: t.id", DatabaseRefusedError),
    ("SQLITE_CONSTRAINT_NOTNULL", "NOT NULL constraint failed: t.id", DatabaseRefusedError),
    ("SQLITE_MISMATCH", "datatype mismatch", DatabaseRefusedError),
    ("SQLITE_TOOBIG", "string or blob too big", DatabaseRefusedError),
    ("SQLITE_FULL", "database or disk is full", DatabaseFailedError),
    ("SQLITE_IOERR_WRITE", "disk I/O error", DatabaseFailedError),
    ("SQLITE_READONLY", "attempt to write a readonly database", DatabaseFailedError),
    ("SQLITE_CANTOPEN", "unable to open database file", DatabaseFailedError),
    ("SQLITE_NOMEM", "out of memory", DatabaseFailedError),
    ("SQLITE_BUSY", "database is locked", TableBusyError),
    ("SQLITE_LOCKED", "database table is locked", TableBusyError),
    ("SQLITE_INTERRUPT", "interrupted", LoadInterrupted),
    ("SQLITE_ERROR", "no such table: ref.t", DatabaseFailedError),
    # ADBC's SQLite driver passes on only the text
    (None, "INTERNAL: failed to execute: UNIQUE constraint failed: t.a", DatabaseRefusedError),
    (None, "IO: failed to write: database or disk is full", DatabaseFailedError),
    (None, "INTERNAL: disk I/O error", DatabaseFailedError),
    (None, "something else entirely", DatabaseFailedError),
])
def test_sqlite_errors(name, message, cls):
    assert sqlite_error_class(name, message) is cls


@pytest.mark.parametrize("state, message, link, cls", [
    ("42000", "[42000] [SQL Server]Could not allocate space for object 'x' in database 'd' because the "
     "'PRIMARY' filegroup is full. (1105) (SQLExecDirectW)", False, DatabaseFailedError),
    ("42000", "[42000] [SQL Server]The transaction log for database 'd' is full. (9002) (SQLExecDirectW)", False,
     DatabaseFailedError),
    ("42000", "[42000] [SQL Server]There is insufficient system memory (701) (SQLExecDirectW)", False,
     DatabaseFailedError),
    ("28000", "[28000] [SQL Server]Login failed for user 'u'. (18456) (SQLDriverConnect)", True, DatabaseAccessError),
    ("42000", "[42000] [SQL Server]The SELECT permission was denied on the object 't'. (229) (SQLExecDirectW)",
     False, DatabaseAccessError),
    ("42000", "[42000] [SQL Server]CREATE TABLE permission denied in database 'd'. (262) (SQLExecDirectW)", False,
     DatabaseAccessError),
    ("42000", "[42000] [SQL Server]Cannot open database \"d\" requested by the login. (4060) (SQLDriverConnect)",
     True, DatabaseAccessError),
    ("40001", "[40001] [SQL Server]Transaction was deadlocked (1205) (SQLExecDirectW)", False, TableBusyError),
    ("HY000", "[HY000] [SQL Server]Lock request time out period exceeded. (1222) (SQLExecDirectW)", False,
     TableBusyError),
    ("23000", "[23000] [SQL Server]Violation of UNIQUE KEY constraint. (2627) (SQLExecDirectW)", False,
     DatabaseRefusedError),
    ("22001", "[22001] [SQL Server]String or binary data would be truncated. (2628) (SQLExecDirectW)", False,
     DatabaseRefusedError),
    # a number in parentheses inside the message is a value, not the native code
    ("22018", "[22018] Conversion failed when converting the value '(1205)' to int. (245) (SQLExecDirectW)", False,
     DatabaseRefusedError),
    ("08S01", "[08S01] Communication link failure (0) (SQLExecDirectW)", False, DatabaseUnavailableError),
    ("01000", "[01000] [unixODBC][Driver Manager]Can't open lib 'ODBC Driver 18 for SQL Server' (0) "
     "(SQLDriverConnect)", True, DatabaseUnavailableError),
    ("42S02", "[42S02] Invalid object name 'x'. (208) (SQLExecDirectW)", False, DatabaseFailedError),
])
def test_sql_server_errors(state, message, link, cls):
    assert odbc.odbc_error_class(state, odbc.native_codes(message), message, link, odbc.MSSQL_CODES) is cls


def test_native_codes_only_close_a_record():
    assert odbc.native_codes("value '(1205)' refused (245) (SQLExecDirectW)") == [245]
    assert odbc.native_codes("a (1105) (SQLExecDirectW); b (9002) (SQLExecDirectW)") == [1105, 9002]
    assert odbc.native_codes("no code here") == []


def test_sql_server_codes_do_not_apply_to_other_drivers():
    message = "[HY000] ERROR: something (1105) (SQLExecDirectW)"
    assert odbc.odbc_error_class("HY000", odbc.native_codes(message), message) is DatabaseFailedError
    assert odbc.odbc_error_class("22P02", [1205], "invalid input syntax") is DatabaseRefusedError


def test_the_split_the_service_relies_on():
    """Refused is bad data (terminal, exit 65); failed is retried (exit 74); access is terminal (exit 78)."""
    assert issubclass(DatabaseRefusedError, BadInputError) and not DatabaseRefusedError.transient
    assert DatabaseFailedError.transient and DatabaseFailedError.exit_code == EXIT_IOERR
    assert not issubclass(DatabaseFailedError, BadInputError)
    assert not DatabaseAccessError.transient and DatabaseAccessError.exit_code == EXIT_CONFIG
    assert LoadInterrupted.transient and TableBusyError.transient and DatabaseUnavailableError.transient


class PyodbcLike(Exception):
    pass


def test_map_error_reads_pyodbc_arguments():
    e = PyodbcLike("42000", "[42000] [SQL Server]The transaction log for database 'd' is full. (9002) "
                   "(SQLExecDirectW)")
    error = odbc.map_error(e, "SQL Server", odbc.MSSQL_CODES)
    assert type(error) is DatabaseFailedError and error.sqlstate == "42000"
    assert "transaction log" in str(error) and "refused" not in str(error)


# -- the same split on real databases -----------------------------------------------------------

def test_sqlite_disk_full_during_publish_is_the_database_not_the_data(sqlite_db) -> None:
    from loader.targets import publish

    from .fix_targets import opened, staged, started

    target = opened(sqlite_db)
    try:
        first = started(target)
        publish(target, staged(target, first, range(10)), first)
        pages = target.conn.execute("PRAGMA ref.page_count").fetchone()[0]
        target.conn.execute(f"PRAGMA ref.max_page_count = {pages + 2}")  # a disk with two pages left
        second = started(target)
        with pytest.raises(DatabaseFailedError, match="full") as info:
            publish(target, staged(target, second, range(50_000)), second)
    finally:
        target.close()
    assert not isinstance(info.value, BadInputError) and info.value.transient
    assert sqlite_db.query("SELECT count(*) FROM ref.t") == [(10,)]
    assert [r["status"] for r in sqlite_db.tracking()] == ["loaded", "loading"]


def test_sqlite_read_only_database_is_the_database_not_the_data(sqlite_db) -> None:
    from loader.targets import publish

    from .fix_targets import opened, staged, started

    target = opened(sqlite_db)
    try:
        rec = started(target)
        plan = staged(target, rec, range(3))
        target.conn.execute("PRAGMA query_only = 1")  # as a read-only file would (the tests may run as root)
        with pytest.raises(DatabaseFailedError, match="readonly"):
            publish(target, plan, rec)
    finally:
        target.close()


def test_postgres_role_without_privilege_is_an_access_error(pg, tmp_path) -> None:
    import uuid

    from loader.load import LoadRequest, load_file

    from .files import write_numbers

    role = "weak_" + uuid.uuid4().hex[:8]
    pg.query(f"CREATE ROLE {role} LOGIN")
    try:
        path = tmp_path / "f.csv"
        write_numbers(path, rows=5)
        settings = pg.settings()
        settings.database.url = pg.url + ("&" if "?" in pg.url else "?") + f"user={role}"
        result = load_file(LoadRequest(str(path), "t"), settings)
    finally:
        pg.query(f"DROP ROLE {role}")
    assert result.exit_code == EXIT_CONFIG and not result.transient, result.error
    assert "permission denied" in (result.error or "")


def test_postgres_database_that_does_not_exist_is_an_access_error(pg) -> None:
    from urllib.parse import urlsplit, urlunsplit

    from loader.targets import open_target

    settings = pg.settings()
    settings.database.url = urlunsplit(urlsplit(pg.url)._replace(path="/no_such_database"))
    with pytest.raises(DatabaseAccessError, match="does not exist"):
        open_target(settings)


def test_postgres_cancel_is_an_interruption(pg) -> None:
    from loader.targets import open_target

    target = open_target(pg.settings())
    try:
        target.session.execute("SET statement_timeout = 50")
        with pytest.raises(LoadInterrupted):
            target.session.query("SELECT pg_sleep(2)")
    finally:
        target.close()
