"""The FastAPI application: uploads, load status, tables, detection, metrics, health.

Built from a Context (settings, routes, the supervisor's Live state, the upload registry), so
tests and the service construct it the same way. Handlers that read the database are plain
`def`s: FastAPI runs them in its thread pool, off the event loop that streams the uploads.
"""

from __future__ import annotations

import datetime as dt
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from fastapi import APIRouter, Depends, FastAPI, Query, Request
from fastapi.responses import FileResponse, JSONResponse, Response
from starlette.concurrency import run_in_threadpool
from starlette.requests import ClientDisconnect

from ... import __version__
from ...config import RouteSettings, Settings
from ...readers import ReadOptions
from .. import folders, uploads
from ..live import Live
from ..uploads import Registry
from . import auth, errors, loads, page
from .errors import HttpError
from .metrics import Metrics
from .receive import Sink, check_name, expected_sha256, receive

DETECT_MAX_BYTES = 64 << 20  # detection samples 4 MiB and the last 64 KiB: the first 64 MiB is plenty
STATUSES = ("loading", "loaded", "failed", "duplicate")


@dataclass
class Context:
    settings: Settings
    routes: dict[str, RouteSettings]
    live: Live
    registry: Registry
    db: loads.Db
    metrics: Metrics

    @classmethod
    def of(cls, settings: Settings, route_list: list[RouteSettings], live: Live, registry: Registry) -> Context:
        return cls(settings, {r.name: r for r in route_list}, live, registry, loads.Db(settings), Metrics(live))


def build_app(ctx: Context) -> FastAPI:
    app = FastAPI(title="loader", version=__version__, docs_url=None, redoc_url=None, openapi_url=None)
    errors.install(app)
    guard = Depends(auth.guard(ctx.settings.service.http_token))
    api = APIRouter(dependencies=[guard])
    _uploads(api, ctx)
    _status(api, ctx)
    app.include_router(api)
    page.install(app, ctx, guard)

    @app.get("/healthz")
    def healthz() -> dict[str, Any]:
        """The process answers (no token: a load balancer's probe)."""
        return {"status": "ok", "loop_age_s": round(dt.datetime.now().timestamp() - ctx.live.snapshot.at, 1)}

    return app


def _uploads(api: APIRouter, ctx: Context) -> None:
    @api.post("/v1/routes/{route}/files", status_code=202)
    async def upload(route: str, request: Request, name: str | None = None) -> JSONResponse:
        r = _route(ctx, route)
        _content_length_fits(request, ctx.settings.service.upload_max_bytes, r.name, ctx)
        want = expected_sha256(request)
        if name is not None:
            check_name(name, r, ctx.settings.schemas.ref)
        upload_id = uploads.new_id()
        sink = Sink(uploads.part_path(r.root, upload_id), ctx.settings.service.upload_max_bytes)
        try:
            carried = await receive(request, sink)
            final = check_name(name or carried, r, ctx.settings.schemas.ref)
            sha = await sink.finish()
            if want and want != sha:
                raise HttpError(400, f"checksum mismatch: the body's SHA-256 is {sha}, the header says {want}")
            up = await run_in_threadpool(ctx.registry.add, r, upload_id, final, sink.size, sha)
        except ClientDisconnect:
            sink.discard()
            ctx.metrics.upload(r.name, "aborted")
            return errors.reply(400, "the client disconnected before the body was complete")
        except HttpError as e:
            sink.discard()
            ctx.metrics.upload(r.name, "too_large" if e.status == 413 else "refused")
            raise
        except OSError as e:  # full disk, lost share: the service's trouble, not the client's
            sink.discard()
            ctx.metrics.upload(r.name, "failed")
            raise HttpError(507, f"cannot store the upload: {e.strerror or e}") from None
        except BaseException:  # cancelled (shutdown, disconnect seen by the server): no .part left behind
            sink.discard()
            raise
        ctx.metrics.upload(r.name, "accepted", up.size)
        doc: dict[str, object] = {"id": up.id, "url": f"/v1/loads/{up.id}", "route": r.name, "file": up.name,
                                  "size_bytes": up.size, "sha256": up.sha256, "status": "queued"}
        return JSONResponse(doc, status_code=202, headers={"Location": f"/v1/loads/{up.id}"})

    @api.post("/v1/detect")
    async def detect(request: Request, name: str | None = None) -> dict[str, Any]:
        with tempfile.TemporaryDirectory(prefix="loader-detect-") as tmp:
            sink = Sink(Path(tmp, "body"), DETECT_MAX_BYTES)
            try:
                carried = await receive(request, sink, truncate=True)
                await sink.finish()
            except ClientDisconnect:
                sink.discard()
                return {}
            filename = name or carried or "upload.csv"
            problem = _plain_name(filename)
            path = Path(tmp, problem or filename)
            os.rename(sink.path, path)
            options = ReadOptions(sample_bytes=ctx.settings.load.sample_bytes,
                                  sample_rows=ctx.settings.load.sample_rows, block_size=ctx.settings.load.block_size)
            from ...load import detect as detect_file

            found = await run_in_threadpool(detect_file, str(path), options)
            return found.as_dict() | {"file": filename, "bytes_read": sink.size,
                                      "truncated": sink.size >= DETECT_MAX_BYTES}


def _plain_name(name: str) -> str | None:
    """Detection only uses the name's extension; an unsafe name is replaced, not refused."""
    from .receive import name_problem

    if name_problem(name) is None:
        return None
    ext = os.path.splitext(name.replace("\\", "/").rsplit("/", 1)[-1])[1]
    return "upload" + (ext if ext.isascii() and ext[1:].isalnum() else ".csv")


def _route(ctx: Context, name: str) -> RouteSettings:
    route = ctx.routes.get(name)
    if route is None:
        raise HttpError(404, f"no route named {name!r}; routes: {', '.join(sorted(ctx.routes))}")
    return route


def _content_length_fits(request: Request, limit: int, route: str, ctx: Context) -> None:
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        ctx.metrics.upload(route, "too_large")
        raise HttpError(413, f"the upload ({int(declared):,} bytes) is larger than the limit of {limit:,} bytes "
                             "(service.upload_max_bytes)")


def _status(api: APIRouter, ctx: Context) -> None:
    @api.get("/v1/loads/{load_id}")
    def one(load_id: str) -> dict[str, Any]:
        view = loads.find(ctx.db, list(ctx.routes.values()), load_id)
        if view is None:
            raise HttpError(404, f"no upload or load with id {load_id!r}")
        return view

    @api.get("/v1/loads/{load_id}/rejects")
    def rejects(load_id: str) -> FileResponse:
        path = loads.rejects_file(ctx.db, list(ctx.routes.values()), load_id)
        if path is None:
            raise HttpError(404, f"load {load_id!r} has no rejects file")
        return FileResponse(path, media_type="text/csv", filename=os.path.basename(path))

    @api.get("/v1/loads")
    def many(route: str | None = None, status: str | None = None, since: dt.datetime | None = None,
             before: str | None = None, limit: int = Query(50, ge=1, le=1000)) -> dict[str, Any]:
        if route is not None:
            _route(ctx, route)
        if status is not None and status not in STATUSES:
            raise HttpError(400, f"status must be one of {', '.join(STATUSES)}")
        since_utc = since.astimezone(dt.UTC).replace(tzinfo=None) if since and since.tzinfo else since
        return loads.page(ctx.db, route, status, since_utc, before, limit)

    @api.get("/v1/tables")
    def tables() -> dict[str, Any]:
        return {"tables": loads.tables(ctx.db)}

    @api.get("/metrics")
    def metrics() -> Response:
        return Response(ctx.metrics.text(), media_type="text/plain; version=0.0.4; charset=utf-8")

    @api.get("/readyz")
    def readyz() -> JSONResponse:
        """Ready for uploads: the routes scanned, the database answering, every inbox writable."""
        checks: dict[str, Any] = {"scanned": ctx.live.ready}
        try:
            ctx.db.run(lambda t: t.recent_loads(1))
            checks["database"] = True
        except Exception as e:  # noqa: BLE001 - any failure means not ready; the reason is shown
            checks["database"] = f"unreachable: {e}"
        for r in ctx.routes.values():
            inbox = os.path.join(r.root, folders.INBOX)
            checks[f"inbox:{r.name}"] = True if os.access(inbox, os.W_OK) else f"{inbox} is not writable"
        ok = all(v is True for v in checks.values())
        doc = {"status": "ready" if ok else "not ready", "checks": checks}
        return JSONResponse(doc, status_code=200 if ok else 503)
