"""`loader run --http ADDR`: the HTTP interface, served by uvicorn in a thread of the supervisor.

A thread, not a process: the page and /metrics show the supervisor's live state (queues, busy
workers, the database-down pause) and an upload's claim needs the registry the supervisor
consults, which a second process would have to reach over IPC. The supervisor's loop stays on
the main thread, so its SIGTERM/SIGINT handlers keep working (uvicorn installs signal handlers
only on the main thread, and here it is not); the HTTP thread is an asyncio loop that mostly
waits on sockets and hands disk writes and database reads to its thread pool, so it takes
little from the loop. The socket is bound before the thread starts: a taken port fails the
start with a clear message instead of a thread dying quietly.
"""

from __future__ import annotations

import asyncio
import errno
import logging
import socket
import threading
from typing import Any

import uvicorn

from ...config import RouteSettings, Settings, parse_http_address
from ...errors import EXIT_TEMPFAIL, ConfigError, TransientError
from .app import Context, build_app

log = logging.getLogger("loader.http")
STOP_WAIT_S = 10.0  # uploads still streaming at shutdown get this long, then are cut (their .part removed)


class AddressInUse(TransientError):
    exit_code = EXIT_TEMPFAIL  # another process holds the port; systemd's restart may find it free


class HttpServer:
    def __init__(self, ctx: Context, sock: socket.socket):
        self.ctx, self.sock = ctx, sock
        config = uvicorn.Config(build_app(ctx), log_config=None, access_log=False, lifespan="off",
                                timeout_graceful_shutdown=int(STOP_WAIT_S), server_header=False)
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self._run, name="loader-http", daemon=True)

    @property
    def address(self) -> str:
        host, port = self.sock.getsockname()[:2]
        return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"

    def start(self) -> HttpServer:
        self.thread.start()
        return self

    def _run(self) -> None:
        try:
            asyncio.run(self.server.serve(sockets=[self.sock]))
        except Exception:
            log.exception("the HTTP interface stopped")

    def alive(self) -> bool:
        return self.thread.is_alive()

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(STOP_WAIT_S + 5)


def bind(addr: str) -> socket.socket:
    """The listening socket, or a loader error that says what is wrong with the address."""
    host, port = parse_http_address(addr)
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
        sock.listen(128)
    except OSError as e:
        sock.close()
        if e.errno == errno.EADDRINUSE:
            raise AddressInUse(f"service.http {addr}: the address is in use by another process") from None
        raise ConfigError(f"service.http {addr}: cannot listen there: {e.strerror or e}") from None
    sock.set_inheritable(False)
    return sock


def serve(settings: Settings, route_list: list[RouteSettings], sup: Any) -> HttpServer:
    """Start the HTTP interface for a running supervisor; its address is logged."""
    sock = bind(settings.service.http)
    ctx = Context.of(settings, route_list, sup.live, sup.uploads)
    server = HttpServer(ctx, sock).start()
    sup.live.healthy = server.alive
    auth = "bearer token required" if settings.service.http_token else "no token: loopback only"
    log.info("http listening on http://%s (%s)", server.address, auth)
    return server
