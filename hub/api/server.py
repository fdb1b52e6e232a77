"""Serving the app with uvicorn: one process, or several workers (``kontor serve --workers``).

With workers, uvicorn binds the listening socket itself as ``socket.socket(family)``, whose
protocol number is 0, and asyncio then skips TCP_NODELAY on every accepted connection
(it sets it only on sockets that say IPPROTO_TCP). A response written in two parts (head,
then body) then waits for the client's delayed ACK: 40 ms per request on Linux. The
protocol class here sets TCP_NODELAY on each connection, as a single process already has.
"""

from __future__ import annotations

import asyncio
import os
import socket
import sys
from typing import Any

import uvicorn

try:  # uvicorn's choice under http="auto": httptools when installed, else h11
    import httptools  # type: ignore[import-not-found]  # noqa: F401
    from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol as _Http
except ImportError:
    from uvicorn.protocols.http.h11_impl import H11Protocol as _Http  # type: ignore[assignment]

APP_FACTORY = "hub.api.app:create_app_from_env"


class NoDelayHttp(_Http):
    """uvicorn's HTTP protocol, with Nagle's algorithm off on the connection."""

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        sock = transport.get_extra_info("socket")
        if sock is not None and sock.family in (socket.AF_INET, socket.AF_INET6):
            try:
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            except OSError:  # not a TCP socket after all: nothing to turn off
                pass
        super().connection_made(transport)


def serve(app: Any, *, host: str, port: int, workers: int = 1) -> None:
    """Serve ``app`` in this process, or, with ``workers`` > 1, the app of the deployment
    named by ``KONTOR_CONFIG`` (``APP_FACTORY``, its store already migrated) in that many
    worker processes supervised by this one (``app`` is then not used)."""
    if workers == 1:
        uvicorn.run(app, host=host, port=port, log_level="warning")
    else:
        _stdin_for_workers()
        uvicorn.run(APP_FACTORY, factory=True, workers=workers, host=host, port=port,
                    log_level="warning", http=NoDelayHttp)


def _stdin_for_workers() -> None:
    """uvicorn reopens this process's stdin descriptor in each worker, which inherits only
    descriptors 0 to 2: a stdin elsewhere (a process started by ``multiprocessing`` has
    /dev/null on another one) or closed would fail every worker. The API reads no stdin."""
    try:
        usable = sys.stdin is not None and sys.stdin.fileno() == 0 and os.fstat(0) is not None
    except (OSError, ValueError):
        usable = False
    if not usable:
        sys.stdin = None  # type: ignore[assignment]
