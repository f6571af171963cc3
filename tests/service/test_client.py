"""The Python client against a real service whose queue overflows: 503s are retried
after Retry-After until every sketch is served."""

from __future__ import annotations

import asyncio
import hashlib
import re

import httpx
import pytest

from isegan.service.client import AsyncIseganClient, IseganClient, ServiceError
from tests.service.conftest import service_settings
from tests.service.server import running_server


def test_clients_retry_503_and_raise_problem_errors(
    generator_checkpoint, parser_checkpoint, sketch_bytes
) -> None:
    settings = service_settings(
        generator_checkpoint, parser_checkpoint, None, queue_size=1, max_batch_size=1,
        c2pa="off", watermark="off",  # so equal pixels give equal bytes across requests
    )  # fmt: skip
    with running_server(settings) as url:

        async def many() -> list[str]:
            async with AsyncIseganClient(url, retries=30) as client:
                results = await asyncio.gather(
                    *(client.synthesize(sketch_bytes, outputs=["photo"]) for _ in range(8))
                )
            return [hashlib.sha256(r.image("photo")).hexdigest() for r in results]

        photos = asyncio.run(many())
        assert len(photos) == 8 and len(set(photos)) == 1  # all served, same bytes
        metrics = httpx.get(url + "/metrics").text
        refused = re.search(r'isegan_rejected_requests_total\{reason="queue_full"\} (\d+)', metrics)
        assert refused is not None and int(refused.group(1)) > 0  # so retries did happen

        with IseganClient(url) as client:
            result = client.synthesize(sketch_bytes)
            assert set(result.response.images) == {"photo", "parsing"}
            assert hashlib.sha256(result.image("photo")).hexdigest() == photos[0]
            assert client.model()["model_id"] == result.response.model_id
            with pytest.raises(ServiceError, match="HTTP 415") as caught:
                client.synthesize(b"not an image at all")
            assert caught.value.problem["type"].endswith("unsupported-image-format")


def test_the_client_imports_no_torch() -> None:
    """A tool that only calls the service installs and starts without torch's weight:
    importing the client, in a fresh interpreter, loads no torch."""
    import subprocess
    import sys

    probe = "import sys, isegan.service.client; print('torch' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
