"""The status page: static assets shipped in the package (no CDN), and the JSON it refreshes from.

`GET /` is the page itself (or, without a valid token, a 401 with a small form that trades the
token for a session cookie); /static/ holds its script and style, which carry no data.
/v1/status gathers what the page shows in one call: per route the queue and the last loads and
failures, throughput per minute over the last hour, and the hosts writing to the tracking table.
"""

from __future__ import annotations

import datetime as dt
import socket
from pathlib import Path
from typing import Any

from fastapi import FastAPI, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse
from fastapi.staticfiles import StaticFiles

from ... import __version__
from ...targets.tracker import Tracker
from . import auth
from .loads import load_view, parse_when, when

STATIC = Path(__file__).resolve().parent.parent / "static"
WINDOW = dt.timedelta(hours=1)
HOSTS_WINDOW = dt.timedelta(days=1)  # a host that wrote nothing for a day is no longer listed
LAST_LOADS, LAST_FAILURES = 10, 5


def install(app: FastAPI, ctx: Any, guard: Any) -> None:
    token = ctx.settings.service.http_token
    app.mount("/static", StaticFiles(directory=STATIC), name="static")

    @app.get("/", response_class=HTMLResponse)
    def index(request: Request) -> HTMLResponse:
        if not auth.allowed(request, token):
            return HTMLResponse((STATIC / "login.html").read_text(encoding="utf-8"), status_code=401)
        return HTMLResponse((STATIC / "index.html").read_text(encoding="utf-8"))

    @app.post("/v1/session")
    def session(token_field: str = Form("", alias="token")) -> RedirectResponse:
        import hmac

        if not token or not hmac.compare_digest(token_field.encode(), token.encode()):
            return RedirectResponse("/?denied=1", status_code=303)
        response = RedirectResponse("/", status_code=303)
        response.set_cookie(auth.COOKIE, auth.session_value(token), httponly=True, samesite="strict", path="/")
        return response

    @app.get("/v1/status", dependencies=[guard])
    def status() -> dict[str, Any]:
        return status_doc(ctx)


def status_doc(ctx: Any) -> dict[str, Any]:
    snap = ctx.live.snapshot
    now = dt.datetime.now(dt.UTC).replace(tzinfo=None)
    doc: dict[str, Any] = {
        "host": socket.gethostname(), "version": __version__, "ready": ctx.live.ready, "db_down": snap.db_down,
        "stopping": snap.stopping, "workers": {"busy": snap.busy, "total": snap.workers},
        "generated_at": when(now), "routes": [], "throughput": [], "hosts": []}

    def read(t: Tracker) -> None:
        for r in snap.routes or [_empty(name) for name in ctx.routes]:
            recent = t.loads_page(route=r.name, limit=LAST_LOADS)
            failures = t.loads_page(route=r.name, status="failed", limit=LAST_FAILURES)
            doc["routes"].append({"name": r.name, "queued": r.queued, "running": r.running,
                                  "oldest_waiting_s": r.oldest_waiting_s, "recent": [load_view(x) for x in recent],
                                  "failures": [load_view(x) for x in failures]})
        doc["throughput"] = per_minute(t.throughput(now - WINDOW), now)
        doc["hosts"] = [{"host": h, "last_started_at": when(s), "last_finished_at": when(f), "loads": n,
                         "loading": int(str(busy or 0))} for h, s, f, n, busy in t.hosts(now - HOSTS_WINDOW)]

    try:
        ctx.db.run(read)
    except Exception as e:  # noqa: BLE001 - the page still shows the queues when the database is down
        doc["database_error"] = str(e)
    return doc


def _empty(name: str) -> Any:
    from ..live import RouteState

    return RouteState(name, "")


def per_minute(rows: list[tuple[object, int, int]], now: dt.datetime, minutes: int = 60) -> list[dict[str, Any]]:
    """Files, rows and bytes loaded per minute, oldest first, every minute present (zeros too)."""
    end = now.replace(second=0, microsecond=0)
    buckets = {end - dt.timedelta(minutes=i): [0, 0, 0] for i in range(minutes)}
    for finished, rows_loaded, size in rows:
        at = parse_when(finished)
        if at is None:
            continue
        slot = buckets.get(at.replace(second=0, microsecond=0))
        if slot is not None:
            slot[0] += 1
            slot[1] += rows_loaded
            slot[2] += size
    return [{"minute": when(m), "files": v[0], "rows": v[1], "bytes": v[2]} for m, v in sorted(buckets.items())]
