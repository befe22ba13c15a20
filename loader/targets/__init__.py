"""Pick a target from a database URL; the rest of the code never asks which database it is."""

from __future__ import annotations

from ..config import Settings, redact_url
from ..errors import ConfigError
from ..track import LoadRecord
from . import publish as _publish
from .base import Capabilities, PublishPlan, Target
from .merging import Repeated

__all__ = ["Capabilities", "PublishPlan", "Target", "open_target", "publish"]


def publish(target: Target, plan: PublishPlan, rec: LoadRecord, repeated: Repeated | None = None) -> str | None:
    """Swap or append, prune backups and write `rec`, in ONE transaction; returns the backup made.

    Callers use this, not a target method: the algorithm lives once in targets/publish.py.
    """
    return _publish.publish(target, plan, rec, repeated)


EXTRAS = {"psycopg": "postgres", "adbc_driver_postgresql": "postgres", "pyodbc": "mssql",
          "mssql_python": "mssql"}  # a driver module -> the extra that installs it (pyproject.toml)


def open_target(settings: Settings) -> Target:
    """The target for settings.database.url; a driver that is not installed is a configuration
    error naming the extra to install, never an internal error."""
    try:
        return _open(settings)
    except ModuleNotFoundError as e:
        top = (e.name or str(e).rpartition(" ")[2].strip("'\"")).split(".")[0]
        if top not in EXTRAS:
            raise
        raise ConfigError(f"database.url {redact_url(settings.database.url)!r} needs the {top} module: "
                          f"pip install 'loader[{EXTRAS[top]}]' (or pip install -e '.[{EXTRAS[top]}]' in a "
                          "checkout)") from None


def _open(settings: Settings) -> Target:
    url = settings.database.url
    s = settings.schemas
    schemas = {"ref": s.ref, "bkp": s.bkp, "stage": s.stage, "tracking": s.tracking}
    if url.startswith("sqlite:"):
        from . import sqlite

        return sqlite.connect(url, [s.ref, s.bkp], settings.database.lock_timeout_s)
    if url.startswith("postgresql+pyodbc:"):
        from . import pg_odbc

        return pg_odbc.connect(url, schemas, settings.database.lock_timeout_s)
    if url.startswith(("mssql:", "mssql+pyodbc:")) or _is_odbc_string(url):
        from . import mssql

        return mssql.connect(url, schemas, settings.database.lock_timeout_s, settings.database.bulk_path)
    if url.startswith(("postgresql:", "postgres:", "postgresql+psycopg:")):
        from . import postgres

        url = url.replace("postgresql+psycopg:", "postgresql:", 1)
        return postgres.connect(url, schemas, settings.database.lock_timeout_s, settings.database.raw_copy)
    raise ConfigError(f"database.url {redact_url(url)!r}: unsupported scheme; use sqlite:///path, "
                      "postgresql://…, postgresql+pyodbc://…, mssql+pyodbc://… or an ODBC connection string")


def _is_odbc_string(url: str) -> bool:
    """A raw ODBC (or mssql-python) connection string: KEY=value;… with a server, no URL scheme."""
    head = url.split(";", 1)[0].lower()
    return "://" not in url and "=" in head and ("server=" in url.lower() or "dsn=" in url.lower())
