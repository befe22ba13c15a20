"""`loader status`: queued/running files, totals, throughput, the last loads and the sources."""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import json
import os
from typing import Any

from .. import logs
from ..config import Settings, redact_url
from ..errors import EXIT_OK
from ..reconcile import fail_dead_loads
from ..routes import default_route
from ..targets import open_target


def cmd_status(args: argparse.Namespace, settings: Settings) -> int:
    from ..service.status import folder_summary, print_summary

    where = f"database {redact_url(settings.database.url)}, settings from {settings.source}"
    missing = missing_sqlite_file(settings.database.url)
    if missing:  # looking must not create it: say where we looked instead
        if args.json:
            print(json.dumps({"folders": [], "totals": {}, "recent": [], "sources": []} if args.summary else []))
        else:
            print(f"no loads yet: {missing} does not exist ({where})")
        return EXIT_OK
    target = open_target(settings)
    window_start = dt.datetime.now(dt.UTC).replace(tzinfo=None) - dt.timedelta(hours=1)
    try:
        target.ensure_ready()
        fail_dead_loads(target, settings.schemas.stage)  # a killed `loader load` shows as failed, not running
        rows = target.tracker.recent_loads(args.limit)
        totals = target.tracker.summary(window_start)
        sources = source_status(settings, target)
        claims = target.tracker.claims.live() if target.tracker.claims is not None else []
    finally:
        target.close()
    roots = args.root or [r.root for r in settings.routes]
    folders_now = folder_summary(settings.routes if not args.root else [default_route(r) for r in roots])
    if args.json:
        recent = [_decoded(r) for r in rows]
        doc: object = ({"folders": folders_now, "totals": totals, "recent": recent, "sources": sources,
                        "claims": claims} if args.summary else recent)
        print(json.dumps(doc, default=str, indent=1))
        return EXIT_OK
    header = ("started (UTC)", "file", "table", "mode", "status", "rows", "seconds", "error")
    lines = [header] + [tuple(map(logs.printable, (
        str(r["started_at"])[:19], str(r["file_name"]), f"{r['schema_name']}.{r['table_name']}", str(r["mode"]),
        str(r["status"]), f"{r['rows_loaded'] or 0:,}", f"{r['seconds']:.2f}" if r["seconds"] is not None else "",
        clip(without_path(r))))) for r in rows]
    widths = [max(len(line[i]) for line in lines) for i in range(len(header) - 1)]
    for line in lines:
        print("  ".join(v.ljust(w) for v, w in zip(line, widths)) + "  " + line[-1])
    print()
    print_summary(folders_now, totals, 3600.0)
    print(logs.printable(where))
    for text in claim_lines(claims):
        print(logs.printable(text))
    for src in sources:
        print(f"source {src['name']} -> {src['table']}: last run {src['last_run'] or 'never'} "
              f"{src['status'] or ''}, {src['rows'] or 0:,} rows, watermark {src['watermark'] or '-'}, "
              f"next run {src['next_run'] or 'on demand'}")
    return EXIT_OK


def source_status(settings: Settings, target: Any) -> list[dict[str, object]]:
    """Each [[sources]] entry: its last run, rows, watermark and next run (loader status)."""
    from ..readers.query import parse_watermark, value_text
    from ..schedule import make_schedule, next_run
    from ..service.sources import wall_now

    out: list[dict[str, object]] = []
    for src in settings.sources:
        row = target.tracker.last_run(src.name) or {}
        started = row.get("started_at")
        last = dt.datetime.fromisoformat(str(started)).replace(tzinfo=dt.UTC) if started else None
        mark = parse_watermark(row.get("watermark"))  # type: ignore[arg-type]
        due = next_run(make_schedule(src.schedule, src.every), last, wall_now())
        out.append({"name": src.name, "table": f"{src.schema or settings.schemas.ref}.{src.table}",
                    "last_run": str(started)[:19] if started else None, "status": row.get("status"),
                    "rows": row.get("rows_loaded"), "watermark": value_text(mark[2]) if mark else None,
                    "next_run": due.isoformat(timespec="seconds") if due else None})
    return out


def claim_lines(claims: list[dict[str, object]]) -> list[str]:
    """Several hosts: each supervisor's last heartbeat, which host loads which table's file, and the
    claims whose lease ran out (another host takes those files over)."""
    from ..targets.sql.claims import HOST_KEY

    out = []
    for c in claims:
        beat = _utc(c["heartbeat_at"])
        late = " (no heartbeat since: expired)" if c["expired"] else ""
        if str(c["claim_key"]).startswith(HOST_KEY):
            out.append(f"host {c['host']} pid {c['pid']}: last heartbeat {beat} UTC{late}")
        else:
            what = "claim expired, to be taken over:" if c["expired"] else "claimed:"
            out.append(f"{c['claim_key']} {what} {c['file_name'] or '?'} by {c['host']} pid {c['pid']} "
                       f"(since {_utc(c['claimed_at'])}, heartbeat {beat} UTC)")
    return out


def _utc(value: object) -> str:
    """A database timestamp as UTC text (PostgreSQL's come in the session's time zone)."""
    if isinstance(value, dt.datetime) and value.tzinfo is not None:
        value = value.astimezone(dt.UTC).replace(tzinfo=None)
    return str(value)[:19]


def missing_sqlite_file(url: str) -> str | None:
    """The SQLite file a sqlite:/// URL names, when it does not exist yet (None for other databases)."""
    if not url.startswith("sqlite:///"):
        return None
    path = url.removeprefix("sqlite:///")
    return None if os.path.exists(path) else path


def _decoded(row: dict[str, object]) -> dict[str, object]:
    """detected_format is stored as JSON text: in `--json` it is an object, not a string to parse again."""
    text = row.get("detected_format")
    if isinstance(text, str):
        with contextlib.suppress(ValueError):
            return row | {"detected_format": json.loads(text)}
    return row


def without_path(row: dict[str, object]) -> str:
    """The file is its own column; the error needn't repeat its full path."""
    error = str(row["error"] or "")
    for path in (str(row["file_path"] or ""), str(row["file_name"] or "")):
        for prefix in (path + ", ", path + ": "):
            if path and error.startswith(prefix):
                return error[len(prefix):]
    return error


def clip(text: object, limit: int = 120) -> str:
    s = "" if text is None else str(text).replace("\n", " ")
    return s if len(s) <= limit else s[: limit - 1] + "…"
