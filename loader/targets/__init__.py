"""Pick a target from a database URL; the rest of the code never asks which database it is."""

from __future__ import annotations

from ..config import Settings, redact_url
from ..errors import ConfigError
from .base import PublishPlan, Target

__all__ = ["PublishPlan", "Target", "open_target"]


def open_target(settings: Settings) -> Target:
    url = settings.database.url
    s = settings.schemas
    if url.startswith("sqlite:"):
        from . import sqlite

        return sqlite.connect(url, [s.ref, s.bkp], settings.database.lock_timeout_s)
    if url.startswith(("postgresql:", "postgres:", "postgresql+psycopg:")):
        from . import postgres

        url = url.replace("postgresql+psycopg:", "postgresql:", 1)
        schemas = {"ref": s.ref, "bkp": s.bkp, "stage": s.stage, "tracking": s.tracking}
        return postgres.connect(url, schemas, settings.database.lock_timeout_s)
    raise ConfigError(f"database.url {redact_url(url)!r}: unsupported scheme; use sqlite:///path or postgresql://…")
