"""loader: bulk-load delimited files into SQL Server, PostgreSQL and SQLite, atomically.

The library surface is what `__all__` lists; the CLI is a thin layer over the same calls:

    from loader import load_settings, load_file, LoadRequest, detect
    result = load_file(LoadRequest("customers.csv", mode="append"), load_settings())

Names are imported on first use, so `import loader` (and `loader --version`) stays cheap:
the load pulls in pyarrow and a database driver only when it is called for.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

_ERRORS = ("LoaderError", "TerminalError", "TransientError", "ConfigError", "UsageError", "NoInputError",
           "DuplicateFileError", "BadInputError", "ValueTypeError", "DatabaseRefusedError", "DatabaseError",
           "DatabaseUnavailableError", "DatabaseFailedError", "DatabaseAccessError", "TableBusyError",
           "LoadInterrupted", "Where")
_WHERE = {
    "load_file": "load", "LoadRequest": "load", "LoadResult": "load", "detect": "load",
    "Settings": "config", "load_settings": "config",
    "Detection": "readers", "ReadOptions": "readers", "formats": "readers",
    "LoadPlan": "plan",
    **dict.fromkeys(_ERRORS, "errors"),
}

__all__ = [
    "__version__", "load_file", "LoadRequest", "LoadResult", "detect", "Settings", "load_settings",
    "Detection", "ReadOptions", "formats", "LoadPlan",
    "LoaderError", "TerminalError", "TransientError", "ConfigError", "UsageError", "NoInputError",
    "DuplicateFileError", "BadInputError", "ValueTypeError", "DatabaseRefusedError", "DatabaseError",
    "DatabaseUnavailableError", "DatabaseFailedError", "DatabaseAccessError", "TableBusyError",
    "LoadInterrupted", "Where",
]

if TYPE_CHECKING:
    from .config import Settings, load_settings
    from .errors import (
        BadInputError,
        ConfigError,
        DatabaseAccessError,
        DatabaseError,
        DatabaseFailedError,
        DatabaseRefusedError,
        DatabaseUnavailableError,
        DuplicateFileError,
        LoaderError,
        LoadInterrupted,
        NoInputError,
        TableBusyError,
        TerminalError,
        TransientError,
        UsageError,
        ValueTypeError,
        Where,
    )
    from .load import LoadRequest, LoadResult, detect, load_file
    from .plan import LoadPlan
    from .readers import Detection, ReadOptions, formats


def __getattr__(name: str) -> Any:
    module = _WHERE.get(name)
    if module is None:
        raise AttributeError(f"module 'loader' has no attribute {name!r}")
    value = getattr(importlib.import_module(f".{module}", __name__), name)
    globals()[name] = value  # the next access is a plain attribute
    return value


def __dir__() -> list[str]:
    return sorted(__all__)
