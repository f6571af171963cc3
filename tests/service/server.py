"""Run a real uvicorn server in a background thread on a free localhost port."""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager

import uvicorn

from isegan.service.app import create_app
from isegan.service.client import wait_until_ready
from isegan.service.http.slow_clients import uvicorn_limits
from isegan.service.settings import ServiceSettings


@contextmanager
def running_server(settings: ServiceSettings, timeout: float = 120.0) -> Iterator[str]:
    """Serve ``create_app(settings)`` over real HTTP; yields the base URL once ready."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    config = uvicorn.Config(
        create_app(settings),
        log_config=None,
        access_log=False,
        lifespan="on",
        **uvicorn_limits(settings),
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    url = f"http://127.0.0.1:{port}"
    wait_until_ready(
        url,
        alive=thread.is_alive,
        timeout=timeout,
        why_not=lambda: "the server thread ended during start-up (see the log)",
    )
    try:
        yield url
    finally:
        server.should_exit = True
        thread.join(60)
        sock.close()
