"""ISEGAN_COMPILE=true: every batch size the worker can form is compiled during the
warm-up, so no request waits for a compiler, and the outputs match the eager path."""

from __future__ import annotations

import asyncio
import base64
import io
from pathlib import Path

import httpx
import numpy as np
import torch._dynamo.utils
from PIL import Image

from isegan.model.pipeline import FacePipeline
from tests.service.conftest import service_settings
from tests.service.server import running_server


async def _pair(url: str, sketch: bytes) -> list[dict]:  # type: ignore[type-arg]
    files = {"sketch": ("s.png", sketch, "image/png")}
    async with httpx.AsyncClient(timeout=300) as client:
        answers = await asyncio.gather(
            *(client.post(url + "/synthesize", files=files) for _ in range(2))
        )
    assert all(answer.status_code == 200 for answer in answers)
    return [answer.json() for answer in answers]


def test_compiled_service_compiles_before_ready_and_matches_eager(
    generator_checkpoint: Path, parser_checkpoint: Path, sketch_bytes: bytes
) -> None:
    settings = service_settings(
        generator_checkpoint, parser_checkpoint, None,
        compile=True, max_batch_size=2, max_batch_wait_ms=200,
        watermark="off",  # compared with the eager pipeline's pixels below
    )  # fmt: skip
    with running_server(settings, timeout=900) as url:
        compiled_graphs = torch._dynamo.utils.counters["stats"]["unique_graphs"]
        assert compiled_graphs >= 2 * 3  # parser, G1, G2 at batch sizes 1 and 2
        answers = [answer for _ in range(3) for answer in asyncio.run(_pair(url, sketch_bytes))]
        assert {answer["batch_size"] for answer in answers} <= {1, 2}
        # Nothing was compiled on a request's time.
        assert torch._dynamo.utils.counters["stats"]["unique_graphs"] == compiled_graphs
        assert all(answer["provenance"]["inference"]["compile"] for answer in answers)

    options = settings.inference_options().model_copy(update={"compile": False})
    eager = FacePipeline.from_files(
        generator_checkpoint, parser_checkpoint, device="cpu", options=options
    )
    eager.canonicalise = settings.canonicalise_config()
    with Image.open(io.BytesIO(sketch_bytes)) as sketch:
        expected = np.asarray(eager([sketch.convert("RGB")])[0].photo, np.float64)
    served = base64.b64decode(answers[0]["images"]["photo"]["data"])
    with Image.open(io.BytesIO(served)) as image:
        got = np.asarray(image, np.float64)
    error = np.mean((got - expected) ** 2)
    assert error == 0 or 10 * np.log10(255**2 / error) >= 40
