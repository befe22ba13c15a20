"""A real `loader run --http 127.0.0.1:0` process, and a small stdlib HTTP client for it.

http.client streams a file body from disk (no copy in memory), so the concurrency test measures
the server, not the client; multipart bodies are built by hand as a browser or curl -F sends them.
"""

from __future__ import annotations

import http.client
import json
import re
import uuid
from pathlib import Path
from typing import Any, BinaryIO

from .conftest import Db
from .service import FAST, Service, wait_until


class HttpService(Service):
    """The service with its HTTP interface on a free loopback port, read back from its log."""

    def __init__(self, db: Db, root: Path, *args: str, env: dict[str, str] | None = None):
        super().__init__(db, root, "--root", str(root), *FAST, "--http", "127.0.0.1:0", *args, env=env)
        self.port = 0

    def start(self) -> HttpService:
        super().start()
        m = wait_until(lambda: re.search(r"http listening on http://127\.0\.0\.1:(\d+)", self.log()), 30,
                       "the HTTP interface to listen", self)
        self.port = int(m.group(1))
        return self

    def __enter__(self) -> HttpService:
        return self.start()

    def request(self, method: str, path: str, body: bytes | BinaryIO | None = None,
                headers: dict[str, str] | None = None, token: str | None = None) -> Response:
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=120)
        try:
            hdrs = dict(headers or {})
            if token:
                hdrs["Authorization"] = f"Bearer {token}"
            conn.request(method, path, body=body, headers=hdrs)
            res = conn.getresponse()
            return Response(res.status, {k.lower(): v for k, v in res.getheaders()}, res.read())
        finally:
            conn.close()

    def get(self, path: str, token: str | None = None) -> Response:
        return self.request("GET", path, token=token)

    def upload(self, name: str, data: bytes, route: str = "default", token: str | None = None,
               headers: dict[str, str] | None = None) -> Response:
        body, ctype = multipart(name, data)
        return self.request("POST", f"/v1/routes/{route}/files", body,
                            {"Content-Type": ctype} | (headers or {}), token=token)

    def poll(self, upload_id: str, until: tuple[str, ...] = ("loaded", "failed", "duplicate"),
             token: str | None = None, timeout: float = 60) -> dict[str, Any]:
        def done() -> dict[str, Any] | None:
            doc = self.get(f"/v1/loads/{upload_id}", token=token).json()
            return doc if doc.get("status") in until else None

        return wait_until(done, timeout, f"upload {upload_id} to reach {until}", self)


class Response:
    def __init__(self, status: int, headers: dict[str, str], body: bytes):
        self.status, self.headers, self.body = status, headers, body

    def json(self) -> Any:
        return json.loads(self.body)

    def __repr__(self) -> str:
        return f"<{self.status} {self.body[:300]!r}>"


def multipart(name: str, data: bytes, field: str = "file") -> tuple[bytes, str]:
    boundary = uuid.uuid4().hex
    head = (f"--{boundary}\r\nContent-Disposition: form-data; name=\"{field}\"; filename=\"{name}\"\r\n"
            "Content-Type: text/csv\r\n\r\n").encode("utf-8", "surrogateescape")
    return head + data + f"\r\n--{boundary}--\r\n".encode(), f"multipart/form-data; boundary={boundary}"


def csv_bytes(rows: int, start: int = 0) -> bytes:
    return ("id,label,amount\n" + "".join(f"{i},row {i},{i}.25\n" for i in range(start, start + rows))).encode()
