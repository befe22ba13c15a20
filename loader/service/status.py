"""`loader status`: what waits in the folders, what the tracking table says, and how fast it goes."""

from __future__ import annotations

import os
import time
from pathlib import Path

from .. import routes
from ..coltypes import Status
from ..config import RouteSettings
from ..logs import printable
from . import claim, folders


def folder_summary(route_list: list[RouteSettings]) -> list[dict[str, object]]:
    """Per route: files queued in inbox/, running in processing/, failed/, the oldest waiting file's age."""
    out = []
    now = time.time()
    for r in route_list:
        inbox = Path(r.root, folders.INBOX)
        waiting = [p for p in inbox.iterdir() if p.is_file() and routes.wants(r, p.name)] if inbox.exists() else []
        oldest = min((p.stat().st_mtime for p in waiting), default=None)
        failed_dir = Path(r.root, folders.FAILED)
        failed = [p for p in failed_dir.iterdir() if not p.name.endswith(".error.json")] if failed_dir.exists() else []
        out.append({"route": r.name, "root": os.path.abspath(r.root), "queued": len(waiting),
                    "running": len(claim.claimed(r.root)) if Path(r.root, folders.PROCESSING).exists() else 0,
                    "failed_files": len(failed),
                    "oldest_waiting_s": round(now - oldest, 1) if oldest is not None else None})
    return out


def print_summary(folder_rows: list[dict[str, object]], totals: list[dict[str, object]], window_s: float) -> None:
    for f in folder_rows:
        age = f["oldest_waiting_s"]
        print(printable(f"route {f['route']} ({f['root']}): {f['queued']} queued, {f['running']} running, "
                        f"{f['failed_files']} in failed/"
                        + (f", oldest waiting {age:.0f}s" if isinstance(age, float) else "")))
    by = {str(t["status"]): t for t in totals}
    order = (Status.LOADED, Status.DUPLICATE, Status.FAILED, Status.LOADING)
    parts = [f"{by[s]['files']} {s}" for s in order if s in by]
    print("tracking: " + (", ".join(parts) if parts else "no loads yet"))
    done = by.get(Status.LOADED)
    if done and int(str(done["files_recent"])):
        files, rows = int(str(done["files_recent"])), int(str(done["rows_recent"]))
        busy = float(str(done["seconds_recent"])) or 1e-9
        print(f"last {window_s / 3600:.0f} h: {files} files, {rows:,} rows loaded; {rows / busy:,.0f} rows/s and "
              f"{files / busy:.1f} files/s per load while loading")
