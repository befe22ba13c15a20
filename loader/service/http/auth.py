"""Bearer tokens: every endpoint but /healthz needs one when a token is set (off loopback it must be).

Compared in constant time (hmac.compare_digest). The status page cannot send a header on a plain
navigation, so /v1/session trades the token for an HttpOnly, SameSite=Strict cookie holding an
HMAC of it (never the token itself); the cookie only opens GET requests, so a forged cross-site
POST can never upload.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Callable

from fastapi import Request

from .errors import HttpError

COOKIE = "loader_session"


def session_value(token: str) -> str:
    return hmac.new(token.encode(), b"loader status page", hashlib.sha256).hexdigest()


def allowed(request: Request, token: str) -> bool:
    if not token:
        return True  # no token: the service listens on loopback only (config refuses anything else)
    scheme, _, given = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() == "bearer" and hmac.compare_digest(given.strip().encode(), token.encode()):
        return True
    cookie = request.cookies.get(COOKIE, "")
    return request.method in ("GET", "HEAD") and hmac.compare_digest(cookie.encode(), session_value(token).encode())


def guard(token: str) -> Callable[[Request], None]:
    def check(request: Request) -> None:
        if not allowed(request, token):
            error = HttpError(401, "a bearer token is required: Authorization: Bearer <token>")
            error.headers = {"WWW-Authenticate": 'Bearer realm="loader"'}
            raise error

    return check
