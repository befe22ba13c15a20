"""Logs: human-readable lines on a terminal, JSON lines in service mode (journald, collectors).

Structured fields travel as `extra={"fields": {...}}` and become top-level JSON keys
(file, sha256, table, load_id, stage, rows, rejects, duration_ms), or `k=v` on a terminal.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import sys
from typing import Any

_FIELDS = "fields"


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        data: dict[str, Any] = {
            "ts": dt.datetime.fromtimestamp(record.created, dt.UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(), "logger": record.name, "pid": record.process,
            "msg": record.getMessage()}
        data.update(getattr(record, _FIELDS, None) or {})
        if record.exc_info:
            data["exc"] = self.formatException(record.exc_info)
        return json.dumps(data, default=str, ensure_ascii=False)


class HumanFormatter(logging.Formatter):
    def __init__(self) -> None:
        super().__init__("%(asctime)s %(levelname)s %(message)s", "%H:%M:%S")

    def format(self, record: logging.LogRecord) -> str:
        text = super().format(record)
        fields = getattr(record, _FIELDS, None)
        if fields:
            text += "  " + " ".join(f"{k}={v}" for k, v in fields.items() if v not in (None, ""))
        return text


def setup(fmt: str, verbose: bool) -> None:
    """fmt: auto | human | json; auto means JSON unless stderr is a terminal."""
    use_json = fmt == "json" or (fmt == "auto" and not sys.stderr.isatty())
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter() if use_json else HumanFormatter())
    root = logging.getLogger()
    for h in list(root.handlers):
        root.removeHandler(h)
    root.addHandler(handler)
    root.setLevel(logging.DEBUG if verbose else logging.INFO)
    logging.getLogger("watchfiles").setLevel(logging.WARNING)  # "N changes detected" on every event


def fields(**kv: Any) -> dict[str, Any]:
    return {_FIELDS: {k: v for k, v in kv.items() if v is not None}}
