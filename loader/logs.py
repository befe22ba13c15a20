"""Logs: human-readable lines on a terminal, JSON lines in service mode (journald, collectors).

Structured fields travel as `extra={"fields": {...}}` and become top-level JSON keys
(file, sha256, table, load_id, stage, rows, rejects, duration_ms), or `k=v` on a terminal.

Two things hold for every line: passwords of the database URL are scrubbed from messages, fields
and tracebacks (`hide` registers a URL; loader.redact finds its passwords by parsing it), and a
human line escapes control characters (`printable`): a file named with a terminal escape or a
newline cannot repaint the operator's terminal or forge a log line. JSON escapes them itself.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import sys
import unicodedata
from typing import Any

from .redact import scrub, secrets_of

_FIELDS = "fields"
_SECRETS: list[str] = []  # every spelling of every password registered with hide(), longest first
# Shown escaped besides the C0/C1 controls: line and paragraph separators and the bidi overrides
# that can make a name read differently from what it is ("Trojan Source").
_INVISIBLE = {"\u2028", "\u2029", "\u200e", "\u200f",
              *map(chr, range(0x202A, 0x202F)), *map(chr, range(0x2066, 0x206A))}


def hide(url: str) -> None:
    """From now on, the passwords in `url` never reach a log line of this process."""
    for secret in secrets_of(url):
        if secret not in _SECRETS:
            _SECRETS.append(secret)
    _SECRETS.sort(key=len, reverse=True)


def redacted(text: str) -> str:
    return scrub(text, _SECRETS) if _SECRETS else text


def printable(value: object) -> str:
    """Control characters as escapes (\\x1b, \\n, \\u202e): one value, one line, no terminal commands."""
    text = str(value)
    if text.isprintable():
        return text
    return "".join(ch if ch.isprintable() and ch not in _INVISIBLE else _escape(ch) for ch in text)


def _escape(ch: str) -> str:
    if unicodedata.category(ch) == "Zs":  # a non-breaking or other space: harmless, kept
        return ch
    return ch.encode("unicode_escape").decode("ascii")


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        data: dict[str, Any] = {
            "ts": dt.datetime.fromtimestamp(record.created, dt.UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(), "logger": record.name, "pid": record.process,
            "msg": redacted(record.getMessage())}
        data.update({k: _redact_value(v) for k, v in (getattr(record, _FIELDS, None) or {}).items()})
        if record.exc_info:
            data["exc"] = redacted(self.formatException(record.exc_info))
        return json.dumps(data, default=str, ensure_ascii=False)


class HumanFormatter(logging.Formatter):
    def __init__(self, fmt: str = "%(asctime)s %(levelname)s %(message)s") -> None:
        super().__init__(fmt, "%H:%M:%S")

    def formatMessage(self, record: logging.LogRecord) -> str:  # noqa: N802 - logging's name
        record.message = printable(redacted(record.message))
        return super().formatMessage(record)

    def formatException(self, ei: Any) -> str:  # noqa: N802 - a traceback keeps its lines, loses its secrets
        return redacted(super().formatException(ei))

    def format(self, record: logging.LogRecord) -> str:
        text = super().format(record)
        fields = getattr(record, _FIELDS, None)
        if fields:
            text += "  " + " ".join(f"{k}={printable(_redact_value(v))}" for k, v in fields.items()
                                    if v not in (None, ""))
        return text


def _redact_value(value: Any) -> Any:
    return redacted(value) if isinstance(value, str) else value


def setup(fmt: str, verbose: bool, quiet: bool = False) -> None:
    """fmt: auto | human | json; auto means JSON unless stderr is a terminal. quiet: warnings and errors only."""
    use_json = fmt == "json" or (fmt == "auto" and not sys.stderr.isatty())
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter() if use_json else HumanFormatter())
    root = logging.getLogger()
    for h in list(root.handlers):
        root.removeHandler(h)
    root.addHandler(handler)
    root.setLevel(logging.DEBUG if verbose else logging.WARNING if quiet else logging.INFO)
    logging.getLogger("watchfiles").setLevel(logging.WARNING)  # "N changes detected" on every event


def fields(**kv: Any) -> dict[str, Any]:
    return {_FIELDS: {k: v for k, v in kv.items() if v is not None}}


def json_logs() -> bool:
    """Whether this process logs JSON: its workers log the same way."""
    return any(isinstance(h.formatter, JsonFormatter) for h in logging.getLogger().handlers)
