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
    """Base of everything the loader reports; `transient` errors may succeed if retried."""

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


class ConfigError(LoaderError):
    exit_code = EXIT_CONFIG


class UsageError(LoaderError):
    exit_code = EXIT_USAGE


class BadInputError(LoaderError):
    """The file cannot be loaded as it is; retrying will not help."""

    exit_code = EXIT_DATA


class ValueTypeError(BadInputError):
    """A value does not parse as its column's type; `widen` policy can recover from it."""


class DatabaseRefusedError(BadInputError):
    """The database rejected the data (constraint, encoding, range)."""


class DuplicateFileError(LoaderError):
    exit_code = EXIT_DUPLICATE


class DatabaseUnavailableError(LoaderError):
    exit_code = EXIT_UNAVAILABLE
    transient = True


class TableBusyError(LoaderError):
    """Another load holds the table; the caller may wait and retry."""

    exit_code = EXIT_TEMPFAIL
    transient = True


def shorten(value: str, limit: int = 80) -> str:
    """Values go into messages and tracking rows; a 1 MB field must not."""
    return value if len(value) <= limit else value[: limit - 1] + "…"


class NoInputError(LoaderError):
    exit_code = EXIT_NOINPUT
