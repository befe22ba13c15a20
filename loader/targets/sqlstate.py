"""SQLSTATE -> the loader error it means, shared by the PostgreSQL and ODBC drivers (both speak SQLSTATE).

The split that matters: only the data's own faults are DatabaseRefusedError (a BadInputError:
the file goes to failed/ as bad data). A full disk, an I/O error or a crashed backend is the
database's fault and is retried; wrong credentials or grants are terminal but never "bad data".
"""

from __future__ import annotations

from ..errors import (
    DatabaseAccessError,
    DatabaseFailedError,
    DatabaseRefusedError,
    DatabaseUnavailableError,
    LoaderError,
    LoadInterrupted,
    TableBusyError,
)

# Exact codes first (they override their class), then two-character classes.
_EXACT: dict[str, type[LoaderError]] = {
    "42804": DatabaseRefusedError,  # datatype_mismatch: a value of the wrong type for its column
    "42501": DatabaseAccessError,  # insufficient_privilege
    "3D000": DatabaseAccessError,  # invalid_catalog_name: the database does not exist
    "53100": DatabaseFailedError,  # disk_full
    "53200": DatabaseFailedError,  # out_of_memory
    "53300": DatabaseUnavailableError,  # too_many_connections: wait for a slot
    "XX000": DatabaseFailedError,  # internal_error
    "XX001": DatabaseFailedError,  # data_corrupted
    "XX002": DatabaseFailedError,  # index_corrupted
    "57014": LoadInterrupted,  # query_canceled: a cancel or a statement timeout is never bad data
    "57P01": DatabaseUnavailableError,  # admin_shutdown
    "57P02": DatabaseUnavailableError,  # crash_shutdown
    "57P03": DatabaseUnavailableError,  # cannot_connect_now (starting up)
    "40001": TableBusyError,  # serialization_failure (SQL Server: deadlock victim)
    "40P01": TableBusyError,  # deadlock_detected
    "55P03": TableBusyError,  # lock_not_available (lock_timeout)
    "HYT00": TableBusyError,  # ODBC: timeout expired (a lock wait, in practice)
    "HYT01": TableBusyError,  # ODBC: connection timeout expired
}
_CLASSES: dict[str, type[LoaderError]] = {
    "22": DatabaseRefusedError,  # data exception: a value the column cannot hold
    "23": DatabaseRefusedError,  # integrity constraint violation (unique, not null, check)
    "54": DatabaseRefusedError,  # program limit exceeded: too many columns, an index row too big
    "08": DatabaseUnavailableError,  # connection exception
    "28": DatabaseAccessError,  # invalid authorization specification
    "53": DatabaseFailedError,  # insufficient resources
    "58": DatabaseFailedError,  # system error: I/O outside the database
}


def sqlstate_class(state: str | None) -> type[LoaderError] | None:
    """The loader error a SQLSTATE names, or None when the code alone does not say."""
    if not state:
        return None
    state = state.upper()
    return _EXACT.get(state) or _CLASSES.get(state[:2])
