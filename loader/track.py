"""The tracking record: one row per file in the target database, the ledger of every load.

Targets own the SQL; this module owns what a record holds, so a column added here reaches
every database through TRACKING_COLUMNS.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import os
import socket
import uuid
from concurrent.futures import Future
from dataclasses import dataclass, field, fields
from enum import StrEnum

from .coltypes import Mode, Status

# (column, logical kind) in table order; targets map the kinds to their DDL.
TRACKING_COLUMNS: list[tuple[str, str]] = [
    ("load_id", "key"), ("file_path", "text"), ("file_name", "text"), ("size_bytes", "bigint"),
    ("sha256", "text"), ("route", "text"), ("schema_name", "text"), ("table_name", "text"),
    ("mode", "text"), ("status", "text"), ("rows_read", "bigint"), ("rows_loaded", "bigint"),
    ("rows_rejected", "bigint"), ("backup_table", "text"), ("detected_format", "text"),
    ("started_at", "timestamp"), ("finished_at", "timestamp"), ("read_seconds", "float"),
    ("seconds", "float"), ("host", "text"), ("pid", "bigint"), ("error", "text"),
    ("error_line", "bigint"), ("error_column", "text"), ("rejects_file", "text"),
    # a database source's committed high-water mark (JSON: column, type, value); loader/sources.py
    ("watermark", "text"),
]
TRACKING_TABLE = "loader_files"


def new_load_id() -> str:
    return uuid.uuid4().hex


def now() -> dt.datetime:
    return dt.datetime.now(dt.UTC).replace(tzinfo=None)


@dataclass
class LoadRecord:
    file_path: str
    schema_name: str
    table_name: str
    mode: Mode
    sha256: str = ""
    size_bytes: int = 0
    route: str = "cli"
    load_id: str = field(default_factory=new_load_id)
    status: Status = Status.LOADING
    rows_read: int = 0
    rows_loaded: int = 0
    rows_rejected: int = 0
    backup_table: str | None = None
    detected_format: str | None = None
    started_at: dt.datetime = field(default_factory=now)
    finished_at: dt.datetime | None = None
    read_seconds: float | None = None
    seconds: float | None = None
    host: str = field(default_factory=socket.gethostname)
    pid: int = field(default_factory=os.getpid)
    error: str | None = None
    error_line: int | None = None
    error_column: str | None = None
    rejects_file: str | None = None
    watermark: str | None = None

    sha256_pending: Future[str] | None = field(default=None, repr=False, compare=False)
    # what planning changed (a widened column), for the result line; not a tracking column
    notes: tuple[str, ...] = field(default=(), repr=False, compare=False)

    def resolve_sha256(self) -> None:
        """The hash runs in a thread while the file loads; wait for it where it is needed."""
        if self.sha256_pending is not None:
            self.sha256 = self.sha256_pending.result()
            self.sha256_pending = None

    @property
    def file_name(self) -> str:
        return os.path.basename(self.file_path)

    def values(self) -> list[object]:
        data = {f.name: getattr(self, f.name) for f in fields(self)} | {"file_name": self.file_name}
        # plain str for the drivers: Mode / Status are StrEnums, stored as their values
        return [str(v) if isinstance(v, StrEnum) else v for v in (data[name] for name, _ in TRACKING_COLUMNS)]

    def note(self, text: str) -> None:
        """What the load did beyond reading (a merge's counts): on the result line and in detected_format's
        notes, so the tracking row keeps it."""
        self.notes = (*self.notes, text)
        with contextlib.suppress(ValueError, TypeError, AttributeError):
            fmt = json.loads(self.detected_format or "{}")
            fmt["notes"] = [*fmt.get("notes", []), text]
            self.detected_format = json.dumps(fmt, ensure_ascii=False)

    def set_format(self, fmt_dict: dict[str, object]) -> None:
        self.detected_format = json.dumps(fmt_dict, ensure_ascii=False)

    def finish(self, status: Status) -> None:
        self.status = status
        self.finished_at = now()
        self.seconds = (self.finished_at - self.started_at).total_seconds()
