"""Micro-batching, back-pressure (503), deadlines (504), API keys, CORS and metrics."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import re
from pathlib import Path

import httpx
import pytest

from isegan.service.prometheus import ServiceMetrics
from isegan.service.runtime.worker import DeviceBusyError, InferenceWorker
from isegan.service.settings import ServiceSettings
from tests.service.conftest import service_settings
from tests.service.server import running_server


async def flood(url: str, sketch: bytes, count: int, headers=None) -> list[httpx.Response]:
    async with httpx.AsyncClient(timeout=120) as client:
        return await asyncio.gather(
            *(
                client.post(
                    url + "/synthesize",
                    files={"sketch": ("s.png", sketch, "image/png")},
                    headers=headers,
                )
                for _ in range(count)
            )
        )


def test_flood_is_batched_refused_with_retry_after_and_never_500(
    generator_checkpoint, parser_checkpoint, tmp_path, sketch_bytes
) -> None:
    settings = service_settings(
        generator_checkpoint, parser_checkpoint, tmp_path / "audit.jsonl",
        queue_size=6, max_batch_size=4, max_batch_wait_ms=100,
        c2pa="off", watermark="off",  # so equal pixels give equal bytes across requests
    )  # fmt: skip
    with running_server(settings) as url:
        responses = asyncio.run(flood(url, sketch_bytes, 40))
        statuses = [r.status_code for r in responses]
        assert set(statuses) <= {200, 503}, statuses
        refused = [r for r in responses if r.status_code == 503]
        served = [r.json() for r in responses if r.status_code == 200]
        assert refused and served
        assert all(r.headers["retry-after"] == "1" for r in refused)
        assert all(r.json()["type"].endswith("overloaded") for r in refused)
        assert max(body["batch_size"] for body in served) > 1  # micro-batching happened
        photos = {
            hashlib.sha256(base64.b64decode(b["images"]["photo"]["data"])).hexdigest()
            for b in served
        }
        assert len(photos) == 1  # same bytes whatever batch a request landed in
        assert httpx.get(url + "/health/ready").status_code == 200

        metrics = httpx.get(url + "/metrics").text
        assert re.search(
            r'isegan_requests_total\{method="POST",route="/synthesize",status="503"\} [1-9]',
            metrics,
        )
        assert 'isegan_rejected_requests_total{reason="queue_full"}' in metrics
        assert "isegan_batch_size_bucket" in metrics
        for stage in ("decode", "queue", "parse", "stage1", "stage2", "encode"):
            assert f'isegan_stage_duration_seconds_count{{stage="{stage}"}}' in metrics
        assert "isegan_queue_depth 0.0" in metrics
        assert f'model_id="{served[0]["model_id"]}"' in metrics
        lines = (tmp_path / "audit.jsonl").read_text().splitlines()
        assert len(lines) == len(served)


def test_request_past_its_deadline_is_504(
    generator_checkpoint, parser_checkpoint, sketch_bytes
) -> None:
    settings = service_settings(
        generator_checkpoint, parser_checkpoint, None, request_timeout_s=0.001
    )
    with running_server(settings) as url:
        response = httpx.post(
            url + "/synthesize", files={"sketch": ("s.png", sketch_bytes, "image/png")}, timeout=60
        )
        assert response.status_code == 504
        assert response.json()["type"].endswith("deadline-exceeded")
        assert httpx.get(url + "/health/ready").status_code == 200


def test_api_keys_guard_everything_but_health(
    generator_checkpoint, parser_checkpoint, sketch_bytes
) -> None:
    key = "correct horse battery staple"
    settings = service_settings(
        generator_checkpoint, parser_checkpoint, None,
        api_key_sha256=[hashlib.sha256(b"other key").hexdigest(), hashlib.sha256(key.encode()).hexdigest()],
    )  # fmt: skip
    files = {"sketch": ("s.png", sketch_bytes, "image/png")}
    with running_server(settings) as url:
        assert httpx.get(url + "/health/live").status_code == 200
        assert httpx.get(url + "/health/ready").status_code == 200
        for path in ("/metrics", "/v1/model"):
            denied = httpx.get(url + path)
            assert denied.status_code == 401, path
            assert denied.headers["content-type"] == "application/problem+json"
            assert denied.headers["www-authenticate"].startswith("Bearer")
        # The docs and the schema are readable (a browser cannot send a key to open
        # them) and declare the key schemes, so Swagger UI offers "Authorize".
        assert httpx.get(url + "/docs").status_code == 200
        schema = httpx.get(url + "/openapi.json").json()
        assert set(schema["components"]["securitySchemes"]) == {"bearer", "apiKeyHeader"}
        assert schema["paths"]["/health/ready"]["get"]["security"] == []
        assert "security" not in schema["paths"]["/synthesize"]["post"]  # the global one
        wrong = httpx.post(url + "/synthesize", files=files, headers={"X-API-Key": "guess"})
        assert wrong.status_code == 401
        bearer = httpx.post(
            url + "/synthesize", files=files, headers={"Authorization": f"Bearer {key}"}
        )
        header = httpx.post(url + "/synthesize", files=files, headers={"X-API-Key": key})
        assert bearer.status_code == header.status_code == 200
        # an empty X-API-Key beside a valid Bearer token counts as absent
        both = {"Authorization": f"Bearer {key}", "X-API-Key": ""}
        assert httpx.post(url + "/synthesize", files=files, headers=both).status_code == 200
        same = {"Authorization": f"Bearer {key}", "X-API-Key": key}
        assert httpx.post(url + "/synthesize", files=files, headers=same).status_code == 200
        # two different keys are conflicting credentials, even when one of them is valid
        for conflicting in (
            {"Authorization": f"Bearer {key}", "X-API-Key": "guess"},
            {"Authorization": "Bearer guess", "X-API-Key": key},
        ):
            assert (
                httpx.post(url + "/synthesize", files=files, headers=conflicting).status_code == 401
            )
        assert httpx.get(url + "/v1/model", headers={"Authorization": "Bearer"}).status_code == 401


def test_cors_only_when_configured(generator_checkpoint, parser_checkpoint) -> None:
    plain = service_settings(generator_checkpoint, parser_checkpoint, None)
    with running_server(plain) as url:
        response = httpx.get(url + "/health/live", headers={"Origin": "https://evil.example"})
        assert "access-control-allow-origin" not in response.headers
    settings = service_settings(
        generator_checkpoint, parser_checkpoint, None, cors_origins=["https://examiner.example"]
    )
    with running_server(settings) as url:
        allowed = httpx.get(url + "/health/live", headers={"Origin": "https://examiner.example"})
        assert allowed.headers["access-control-allow-origin"] == "https://examiner.example"
        other = httpx.get(url + "/health/live", headers={"Origin": "https://evil.example"})
        assert "access-control-allow-origin" not in other.headers


def test_settings_come_from_env_and_toml_file(tmp_path: Path, monkeypatch) -> None:
    settings_file = tmp_path / "isegan.toml"
    settings_file.write_text(
        'max_batch_size = 3\nqueue_size = 9\ncors_origins = ["https://a.example"]\n'
    )
    monkeypatch.setenv("ISEGAN_SETTINGS_FILE", str(settings_file))
    monkeypatch.setenv("ISEGAN_QUEUE_SIZE", "11")
    settings = ServiceSettings(port=9001)
    assert (settings.max_batch_size, settings.queue_size, settings.port) == (3, 11, 9001)
    assert settings.cors_origins == ["https://a.example"]
    monkeypatch.setenv("ISEGAN_API_KEY_SHA256", '["not-a-digest"]')
    with pytest.raises(ValueError, match="digests"):
        ServiceSettings()


class NoPipeline:
    """Never runs: the second worker must be refused before any batch."""

    def run(self, sketches, **_):
        raise AssertionError("a refused worker ran a batch")


def test_a_second_model_on_the_same_device_is_refused(
    generator_checkpoint, parser_checkpoint
) -> None:
    settings = service_settings(generator_checkpoint, parser_checkpoint, None)
    with running_server(settings):
        second = InferenceWorker(
            NoPipeline(), device="cpu", metrics=ServiceMetrics(),
            max_batch_size=1, max_batch_wait_s=0, queue_size=1,
        )  # fmt: skip
        with pytest.raises(DeviceBusyError, match="already loaded on cpu"):
            second.start()


def test_empty_variables_mean_not_given(monkeypatch) -> None:
    """docker compose passes unset variables as empty strings."""
    monkeypatch.setenv("ISEGAN_CHECKPOINT", "")
    monkeypatch.setenv("ISEGAN_PARSER", "")
    monkeypatch.setenv("ISEGAN_AUDIT_LOG", "")
    settings = ServiceSettings()
    assert (settings.checkpoint, settings.parser, settings.audit_log) == (None, None, None)


def test_docs_pages_load_every_asset_from_the_service_itself(
    generator_checkpoint, parser_checkpoint
) -> None:
    """Air-gapped labs: /docs and /redoc must not reference any other host."""
    settings = service_settings(generator_checkpoint, parser_checkpoint, None)
    with running_server(settings) as url:
        for page in ("/docs", "/redoc"):
            html = httpx.get(url + page).text
            references = re.findall(r"(?:src|href)\s*=\s*[\"']([^\"']+)[\"']", html)
            references += re.findall(r"url:\s*[\"']([^\"']+)[\"']", html)
            assert references, page
            for reference in references:
                assert not re.match(r"^(https?:)?//", reference), f"{page} loads {reference}"
                assert httpx.get(url + reference).status_code == 200, reference
            assert "cdn" not in html.lower() and "fonts.googleapis" not in html
        assert '"validatorUrl": null' in httpx.get(url + "/docs").text
