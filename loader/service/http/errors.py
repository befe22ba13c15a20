"""Every error answer is JSON {"error": {"status", "message", …}}; never a traceback or an HTML page."""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from ...errors import DatabaseError, LoaderError, TransientError

log = logging.getLogger("loader.http")


class HttpError(Exception):
    def __init__(self, status: int, message: str, **extra: Any):
        super().__init__(message)
        self.status, self.message, self.extra = status, message, extra
        self.headers: dict[str, str] = {}


def body(status: int, message: str, **extra: Any) -> dict[str, Any]:
    return {"error": {"status": status, "message": message, **extra}}


def reply(status: int, message: str, headers: dict[str, str] | None = None, **extra: Any) -> JSONResponse:
    return JSONResponse(body(status, message, **extra), status_code=status, headers=headers)


def install(app: FastAPI) -> None:
    @app.exception_handler(HttpError)
    async def _http_error(_: Request, e: HttpError) -> JSONResponse:
        return reply(e.status, e.message, e.headers, **e.extra)

    @app.exception_handler(StarletteHTTPException)
    async def _starlette(_: Request, e: StarletteHTTPException) -> JSONResponse:
        messages = {404: "no such endpoint", 405: "method not allowed here"}
        return reply(e.status_code, messages.get(e.status_code, str(e.detail)), dict(e.headers or {}))

    @app.exception_handler(RequestValidationError)
    async def _invalid(_: Request, e: RequestValidationError) -> JSONResponse:
        problems = [f"{'.'.join(str(p) for p in err.get('loc', ()))}: {err.get('msg')}" for err in e.errors()]
        return reply(400, "malformed request: " + "; ".join(problems))

    @app.exception_handler(LoaderError)
    async def _loader(_: Request, e: LoaderError) -> JSONResponse:
        """The database's trouble is a 503 (retry later), never the client's fault."""
        if isinstance(e, DatabaseError | TransientError):
            return reply(503, f"database: {e}", {"Retry-After": "5"})
        return reply(400, str(e), line=getattr(e.where, "line", None), column=getattr(e.where, "column", None))

    @app.exception_handler(Exception)
    async def _bug(request: Request, e: Exception) -> JSONResponse:
        log.exception("HTTP %s %s: internal error", request.method, request.url.path)
        return reply(500, f"internal error ({type(e).__name__}); the service log has the details")
