"""The connection cap (max_connections): requests beyond it get 503, and the service
recovers once connections close. Its own module: one service per device and process."""

from __future__ import annotations

import time
from pathlib import Path

import httpx

from tests.reliability.test_slow_clients import _connect
from tests.service.conftest import service_settings
from tests.service.server import running_server


def test_the_connection_cap_answers_503(
    generator_checkpoint: Path, parser_checkpoint: Path
) -> None:
    settings = service_settings(
        generator_checkpoint, parser_checkpoint, None, max_connections=4, header_timeout_s=30.0
    )
    with running_server(settings) as base:
        idle = [_connect(base) for _ in range(4)]
        time.sleep(0.2)
        try:
            assert httpx.get(base + "/health/live", timeout=10).status_code == 503
        finally:
            for sock in idle:
                sock.close()
        time.sleep(0.3)
        assert httpx.get(base + "/health/live", timeout=10).status_code == 200
