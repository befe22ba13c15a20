"""One small error hierarchy: every failure the user sees is a LoaderError with an exit code.

Errors are plain picklable exceptions (they cross the process pool later), carrying the
file, line, column and table they are about, so messages and the tracking row agree.
"""

from __future__ import annotations

from dataclasses import dataclass

# Exit codes follow sysexits.h where one fits (documented in README "Exit codes").
EXIT_OK = 0
EXIT_DUPLICATE = 3  # not an error: the same content was already appended to the table
EXIT_USAGE = 64
EXIT_NOINPUT = 66
EXIT_DATA = 65
EXIT_SOFTWARE = 70
EXIT_UNAVAILABLE = 69
EXIT_TEMPFAIL = 75
EXIT_IOERR = 74
EXIT_INTERRUPTED = 130  # 128 + SIGINT, as shells report a Ctrl-C
EXIT_CONFIG = 78


@dataclass
class Where:
    """Where in a file a problem is: 1-based physical line, column name, the value seen."""

    file: str | None = None
    line: int | None = None
    column: str | None = None
    value: str | None = None

    def describe(self) -> str:
        parts = []
        if self.file:
            parts.append(self.file)
        if self.line is not None:
            parts.append(f"line {self.line}")
        if self.column is not None:
            parts.append(f"column {self.column!r}")
        return ", ".join(parts)


class LoaderError(Exception):
    """Base of everything the loader reports. Catch TerminalError / TransientError, not this.

    `transient` says whether the same load may succeed if retried later; the service retries
    transient errors with backoff and never sends a file to failed/ for one before its last try.
    """

    exit_code = EXIT_SOFTWARE
    transient = False

    def __init__(self, reason: str, where: Where | None = None, sqlstate: str | None = None):
        self.reason = reason
        self.where = where or Where()
        self.sqlstate = sqlstate
        super().__init__(reason, self.where, sqlstate)

    def __str__(self) -> str:
        place = self.where.describe()
        text = f"{place}: {self.reason}" if place else self.reason
        if self.where.value is not None:
            text += f" (value {shorten(self.where.value)!r})"
        return text


class TerminalError(LoaderError):
    """Retrying the same load will not help: the file, the request or the setup must change."""


class TransientError(LoaderError):
    """The same load may succeed later: a connection, a lock, a resource."""

    transient = True


# -- the request and the setup ------------------------------------------------------------------
class ConfigError(TerminalError):
    exit_code = EXIT_CONFIG


class UsageError(TerminalError):
    exit_code = EXIT_USAGE


class NoInputError(TerminalError):
    exit_code = EXIT_NOINPUT


class DuplicateFileError(TerminalError):
    """Not a failure: the same content was already appended (exit 3)."""

    exit_code = EXIT_DUPLICATE


# -- the data ---------------------------------------------------------------------------------
class BadInputError(TerminalError):
    """The file cannot be loaded as it is: the only errors that send a file to failed/ as bad data."""

    exit_code = EXIT_DATA


class ValueTypeError(BadInputError):
    """A value does not parse as its column's type; `widen` policy can recover from it."""


class DatabaseRefusedError(BadInputError):
    """The database rejected this data (constraint, encoding, range): the rows are at fault."""


# -- the database, not the data ------------------------------------------------------------------
class DatabaseError(LoaderError):
    """The database failed or is out of reach; the file itself is not at fault."""


class DatabaseUnavailableError(DatabaseError, TransientError):
    """Cannot connect, or the connection was lost: the service pauses dispatch and probes."""

    exit_code = EXIT_UNAVAILABLE


class DatabaseFailedError(DatabaseError, TransientError):
    """The database could not do it: disk or log full, out of memory, an I/O error, no permission.

    Retried with backoff (space gets freed, grants get fixed); after the last try the file fails
    with this reason, which names the database as the cause, never the data.
    """

    exit_code = EXIT_IOERR


class DatabaseAccessError(DatabaseError, ConfigError):
    """Authentication, authorisation or connection settings are wrong: retrying forever never helps.

    A ConfigError (exit 78), not a pause: a wrong password, a missing database or role, a bad
    sslmode never fix themselves, and waiting on them would look like a database that is down.
    """


class TableBusyError(DatabaseError, TransientError):
    """Another load holds the table (or a lock timed out); the caller may wait and retry."""

    exit_code = EXIT_TEMPFAIL


class LeaseLostError(LoaderError):
    """Another host owns the file now (this supervisor's lease on its table ran out, or was taken over):
    nothing of this load is published, and the file is neither moved nor failed here. Not bad data."""

    exit_code = EXIT_TEMPFAIL


class WorkerStartError(LoaderError):
    """Worker processes die as soon as they start (a broken install, an import that fails): respawning
    them forever would spin, so the service and backfill stop with 70, an installation bug."""

    exit_code = EXIT_SOFTWARE


class FastPathMismatch(LoaderError):
    """A fast path met something it cannot load exactly as the plain path would (a value the
    loader refuses, a count that differs): the load runs the plain path instead, which handles or
    reports it. Never reaches a user unless a fast path is used without that fallback (a bug)."""


class LocalDiskError(TransientError):
    """A local folder the loader writes (rejects/, failed/, the stage files) is full or failing.

    Not the data's fault and not the database's: the file waits and is retried once space is freed.
    """

    exit_code = EXIT_TEMPFAIL


class LoadInterrupted(TransientError):
    """A signal or a cancel stopped the load; it rolled back and may run again (exit 130)."""

    exit_code = EXIT_INTERRUPTED


def shorten(value: str, limit: int = 80) -> str:
    """Values go into messages and tracking rows; a 1 MB field must not."""
    return value if len(value) <= limit else value[: limit - 1] + "…"

