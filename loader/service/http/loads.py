"""Load status as the API shows it: an upload by its id, a tracking row, a page of rows, the tables.

The status of an upload is its file's place until its first tracking row exists (queued), then
the last row of its claim path (loading, loaded, failed, duplicate) — except that a failed row
whose file is still claimed is a retry on its way, so it reads "queued" with the reason. Reads
run in the HTTP thread pool, one connection per thread (an SQLite connection belongs to the
thread that opened it), reopened after a database error.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import os
import threading
from collections.abc import Callable
from typing import Any, TypeVar

from ...config import RouteSettings, Settings
from ...errors import LoaderError
from ...targets import Target, open_target
from ...targets.tracker import Tracker
from .. import uploads
from ..uploads import Upload

T = TypeVar("T")
Row = dict[str, object]


class Db:
    """One ready target per HTTP worker thread, kept between requests."""

    def __init__(self, settings: Settings):
        self.settings = settings
        self._local = threading.local()

    def run(self, fn: Callable[[Tracker], T]) -> T:
        target: Target | None = getattr(self._local, "target", None)
        try:
            if target is None:
                target = open_target(self.settings)
                self._local.target = target
                target.ensure_ready()
            return fn(target.tracker)
        except LoaderError:
            self._local.target = None
            if target is not None:
                with contextlib.suppress(Exception):
                    target.close()
            raise


def when(value: object) -> str | None:
    """Tracking timestamps (naive UTC; SQLite keeps ISO text) as ISO 8601 with Z."""
    if value is None:
        return None
    if isinstance(value, dt.datetime):
        return value.replace(tzinfo=None).isoformat(timespec="milliseconds") + "Z"
    text = str(value).replace(" ", "T")
    return text[:23] + "Z" if "T" in text else text


def parse_when(value: object) -> dt.datetime | None:
    if value is None:
        return None
    if isinstance(value, dt.datetime):
        return value.replace(tzinfo=None)
    return dt.datetime.fromisoformat(str(value).rstrip("Z")).replace(tzinfo=None)


def load_view(row: Row) -> dict[str, Any]:
    """A tracking row for a client: what happened, how many rows, and why it failed, where."""
    out: dict[str, Any] = {
        "id": row["load_id"], "load_id": row["load_id"], "status": row["status"], "route": row["route"],
        "file": row["file_name"], "table": f"{row['schema_name']}.{row['table_name']}", "mode": row["mode"],
        "size_bytes": row["size_bytes"], "rows_read": row["rows_read"], "rows_loaded": row["rows_loaded"],
        "rows_rejected": row["rows_rejected"], "seconds": row["seconds"], "started_at": when(row["started_at"]),
        "finished_at": when(row["finished_at"]), "host": row["host"], "backup": row["backup_table"],
        "url": f"/v1/loads/{row['load_id']}"}
    if row["error"]:
        out["error"] = {"reason": without_path(str(row["error"]), str(row["file_path"] or "")),
                        "line": row["error_line"], "column": row["error_column"]}
    if row["rejects_file"]:
        out["rejects_url"] = f"/v1/loads/{row['load_id']}/rejects"
    return out


def without_path(error: str, path: str) -> str:
    """The server's folder layout is not the client's business: drop the claimed path the error starts with."""
    for prefix in (path + ", ", path + ": "):
        if path and error.startswith(prefix):
            return error[len(prefix):]
    return error


def upload_view(up: Upload, place: str | None, rows: list[Row]) -> dict[str, Any]:
    base: dict[str, Any] = {"id": up.id, "url": f"/v1/loads/{up.id}", "route": up.route, "file": up.name,
                            "size_bytes": up.size, "sha256": up.sha256, "received_at": up.received_at,
                            "attempts": len(rows)}
    if not rows:
        return base | _without_row(up, place)
    view = load_view(rows[-1]) | base
    if view["status"] == "failed" and place == "processing":
        view["status"], view["retrying"] = "queued", view.pop("error", None)
    if "rejects_url" in view:
        view["rejects_url"] = f"/v1/loads/{up.id}/rejects"
    return view


def _without_row(up: Upload, place: str | None) -> dict[str, Any]:
    if place in ("waiting", "inbox", "processing"):
        return {"status": "queued", "place": place}
    failed = uploads.failed_copy(up)
    if failed is not None:  # failed before any load began (e.g. its worker kept dying)
        details = _error_json(str(failed) + ".error.json")
        return {"status": "failed", "error": {"reason": details.get("reason"), "line": details.get("line"),
                                              "column": details.get("column")}}
    return {"status": "gone", "error": {"reason": "the file left the inbox without a load (removed by hand?)"}}


def _error_json(path: str) -> dict[str, Any]:
    try:
        with open(path, encoding="utf-8") as f:
            data = json.load(f)
        return data if isinstance(data, dict) else {}
    except (OSError, ValueError):
        return {}


def find(db: Db, route_list: list[RouteSettings], load_id: str) -> dict[str, Any] | None:
    """An upload id (any route's), else a tracking load id; None when neither exists."""
    up = next((u for r in route_list if (u := uploads.read_record(r.root, load_id)) is not None), None)
    if up is not None:
        place, path = uploads.where(up), str(up.claim_path())
        return upload_view(up, place, db.run(lambda t: t.loads_of_file(path)))
    if len(load_id) > 64:
        return None
    row = db.run(lambda t: t.load_by_id(load_id))
    return load_view(row) if row else None


def rejects_file(db: Db, route_list: list[RouteSettings], load_id: str) -> str | None:
    """The rejects file of a load (or upload), if it exists inside a route's root or rejects_dir."""
    view = find(db, route_list, load_id)
    if not view or "rejects_url" not in view:
        return None
    rows = db.run(lambda t: t.load_by_id(str(view["load_id"])))
    path = str(rows["rejects_file"]) if rows and rows["rejects_file"] else ""
    allowed = [r.root for r in route_list] + ([db.settings.load.rejects_dir] if db.settings.load.rejects_dir else [])
    if path and os.path.isfile(path) and any(_inside(root, path) for root in allowed):
        return path
    return None


def _inside(root: str, path: str) -> bool:
    from ..folders import inside

    return inside(root, path)


def page(db: Db, route: str | None, status: str | None, since: dt.datetime | None,
         before: str | None, limit: int) -> dict[str, Any]:
    """`before` is the opaque cursor of the previous page's `next`: '<started_at>~<load_id>'."""
    cursor = None
    if before:
        at, _, last_id = before.partition("~")
        cursor = (parse_when(at) or dt.datetime.max, last_id)
    rows = db.run(lambda t: t.loads_page(route, status, since, cursor, limit))
    items = [load_view(r) for r in rows]
    nxt = f"{when(rows[-1]['started_at'])}~{rows[-1]['load_id']}" if len(rows) == limit else None
    return {"items": items, "next": nxt}


def tables(db: Db) -> list[dict[str, Any]]:
    """Published tables with their row counts and the backups the last full loads kept."""
    keep = db.settings.load.backups_keep

    def read(t: Tracker) -> list[dict[str, Any]]:
        out = []
        for schema, table, loads, last in t.tables():
            backups = [{"table": name, "made_at": when(at), "rows": _count(t, name)}
                       for name, at in t.backups(schema, table, keep)]
            out.append({"table": f"{schema}.{table}", "rows": _count(t, f"{schema}.{table}"), "loads": loads,
                        "last_loaded_at": when(last), "backups": [b for b in backups if b["rows"] is not None]})
        return out

    return db.run(read)


def _count(t: Tracker, qualified: str) -> int | None:
    """None when the table is gone (dropped by hand, or a backup pruned since)."""
    schema, _, table = qualified.partition(".")
    try:
        return t.count_rows(schema, table)
    except LoaderError:
        return None
