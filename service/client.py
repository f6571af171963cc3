"""A small Python client for the isegan service, sync and async (httpx).

    with IseganClient("http://localhost:8000") as client:
        result = client.synthesize(Path("sketch.png"))
        Path("photo.png").write_bytes(result.image("photo"))

A 503 (queue full, still loading) is retried after the server's Retry-After, up to
``retries`` times; any other error raises :class:`ServiceError` with the problem body.
"""

from __future__ import annotations

import asyncio
import base64
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from isegan.service.schemas import SynthesisResponse

#: Never sleep longer than this between retries, whatever Retry-After says.
MAX_RETRY_WAIT_S = 30.0


class ServiceError(RuntimeError):
    """The service answered with an error; ``problem`` is its problem+json body."""

    def __init__(self, status: int, problem: dict[str, Any]) -> None:
        self.status = status
        self.problem = problem
        detail = problem.get("detail") or problem.get("title") or "error"
        super().__init__(f"HTTP {status}: {detail} (request {problem.get('request_id', '?')})")


@dataclass(frozen=True)
class SynthesisResult:
    response: SynthesisResponse

    def image(self, name: str) -> bytes:
        """The decoded file bytes of one output (photo, parsing, variation_1, ...)."""
        return base64.b64decode(self.response.images[name].data)

    @property
    def variations(self) -> list[str]:
        """The names of the variation images, in order."""
        names = [name for name in self.response.images if name.startswith("variation_")]
        return sorted(names, key=lambda name: int(name.rsplit("_", 1)[1]))


def _request_parts(
    sketch: Path | bytes,
    outputs: Sequence[str] | None,
    align: bool | str,
    parsing: Path | bytes | None,
    output_format: str | None,
    colour: Mapping[str, str | int | None] | None = None,
) -> tuple[dict[str, tuple[str, bytes]], dict[str, str]]:
    def read(item: Path | bytes, name: str) -> tuple[str, bytes]:
        if isinstance(item, Path):
            return item.name, item.read_bytes()
        return name, item

    files = {"sketch": read(sketch, "sketch")}
    if parsing is not None:
        files["parsing"] = read(parsing, "parsing.png")
    data = {"align": align if isinstance(align, str) else str(align).lower()}
    if outputs:
        data["outputs"] = ",".join(outputs)
    if output_format:
        data["format"] = output_format
    data.update({name: str(value) for name, value in (colour or {}).items() if value})
    return files, data


def _retry_wait(response: httpx.Response, attempt: int) -> float:
    header = response.headers.get("retry-after", "")
    wait = float(header) if header.isdigit() else min(2.0**attempt, MAX_RETRY_WAIT_S)
    return min(wait, MAX_RETRY_WAIT_S)


def _result(response: httpx.Response) -> SynthesisResult:
    if response.status_code != 200:
        try:
            problem = response.json()
        except ValueError:
            problem = {"detail": response.text[:500]}
        raise ServiceError(response.status_code, problem)
    return SynthesisResult(SynthesisResponse.model_validate(response.json()))


def _headers(api_key: str | None) -> dict[str, str]:
    return {"Authorization": f"Bearer {api_key}"} if api_key else {}


def wait_until_ready(
    url: str,
    *,
    timeout: float,
    alive: Callable[[], bool] = lambda: True,
    why_not: Callable[[], str] = lambda: "",
) -> None:
    """Poll ``url``/health/ready until it answers 200 (a service starting up, a container
    just launched); fail early when ``alive`` says the server process died."""
    deadline = time.monotonic() + timeout
    while True:
        if not alive():
            raise RuntimeError(f"{url} stopped before it was ready: {why_not()}")
        try:
            if httpx.get(url.rstrip("/") + "/health/ready", timeout=5).status_code == 200:
                return
        except httpx.TransportError:
            pass
        if time.monotonic() > deadline:
            raise TimeoutError(f"{url} not ready after {timeout} s: {why_not()}")
        time.sleep(0.05)


class IseganClient:
    def __init__(
        self,
        base_url: str,
        *,
        api_key: str | None = None,
        timeout: float = 120.0,
        retries: int = 5,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        self.retries = retries
        self._http = httpx.Client(
            base_url=base_url, timeout=timeout, headers=_headers(api_key), transport=transport
        )

    def __enter__(self) -> IseganClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self._http.close()

    def synthesize(
        self,
        sketch: Path | bytes,
        *,
        outputs: Sequence[str] | None = None,
        align: bool | str = "auto",
        parsing: Path | bytes | None = None,
        output_format: str | None = None,
        hair_colour: str | None = None,
        skin_tone: str | None = None,
        eye_colour: str | None = None,
        variations: int = 0,
    ) -> SynthesisResult:
        """One sketch's outputs. Colour hints are palette names or ``#rrggbb``;
        ``variations=N`` adds the images ``variation_1`` ... ``variation_N``."""
        colour = {"hair_colour": hair_colour, "skin_tone": skin_tone, "eye_colour": eye_colour,
                  "variations": variations}  # fmt: skip
        files, data = _request_parts(sketch, outputs, align, parsing, output_format, colour)
        for attempt in range(self.retries + 1):
            response = self._http.post("/synthesize", files=files, data=data)
            if response.status_code != 503 or attempt == self.retries:
                return _result(response)
            time.sleep(_retry_wait(response, attempt))
        raise AssertionError("unreachable")

    def model(self) -> dict[str, Any]:
        response = self._http.get("/v1/model")
        response.raise_for_status()
        info: dict[str, Any] = response.json()
        return info


class AsyncIseganClient:
    def __init__(
        self,
        base_url: str,
        *,
        api_key: str | None = None,
        timeout: float = 120.0,
        retries: int = 5,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self.retries = retries
        self._http = httpx.AsyncClient(
            base_url=base_url, timeout=timeout, headers=_headers(api_key), transport=transport
        )

    async def __aenter__(self) -> AsyncIseganClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        await self._http.aclose()

    async def synthesize(
        self,
        sketch: Path | bytes,
        *,
        outputs: Sequence[str] | None = None,
        align: bool | str = "auto",
        parsing: Path | bytes | None = None,
        output_format: str | None = None,
        hair_colour: str | None = None,
        skin_tone: str | None = None,
        eye_colour: str | None = None,
        variations: int = 0,
    ) -> SynthesisResult:
        """One sketch's outputs. Colour hints are palette names or ``#rrggbb``;
        ``variations=N`` adds the images ``variation_1`` ... ``variation_N``."""
        colour = {"hair_colour": hair_colour, "skin_tone": skin_tone, "eye_colour": eye_colour,
                  "variations": variations}  # fmt: skip
        files, data = _request_parts(sketch, outputs, align, parsing, output_format, colour)
        for attempt in range(self.retries + 1):
            response = await self._http.post("/synthesize", files=files, data=data)
            if response.status_code != 503 or attempt == self.retries:
                return _result(response)
            await asyncio.sleep(_retry_wait(response, attempt))
        raise AssertionError("unreachable")

    async def model(self) -> dict[str, Any]:
        response = await self._http.get("/v1/model")
        response.raise_for_status()
        info: dict[str, Any] = response.json()
        return info
