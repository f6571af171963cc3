"""Pinned models: a checkpoint with bytes flipped is refused at start when its hash is
pinned, the service never becomes ready, and the message says why; the compose file and
the Kubernetes manifests pin the bundled files."""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from isegan.model.stamps import file_sha256
from isegan.model.weights.pretrained import default_generator_path, default_parser_path
from isegan.service.settings import ServiceSettings
from tests.e2e.test_serve import free_port

ISEGAN = str(Path(sys.executable).with_name("isegan"))
REPO = Path(__file__).resolve().parents[2]


def _flip_bytes(source: Path, target: Path, count: int = 100) -> None:
    data = bytearray(source.read_bytes())
    middle = len(data) // 2  # inside the tensors, past the metadata header
    for offset in range(count):
        data[middle + offset] ^= 0xFF
    target.write_bytes(bytes(data))


def test_a_tampered_pinned_checkpoint_never_becomes_ready(
    generator_checkpoint: Path, parser_checkpoint: Path, tmp_path: Path
) -> None:
    tampered = tmp_path / "tampered.safetensors"
    _flip_bytes(generator_checkpoint, tampered)
    port = free_port()
    env = {
        **os.environ,
        "ISEGAN_CHECKPOINT": str(tampered),
        "ISEGAN_PARSER": str(parser_checkpoint),
        "ISEGAN_DEVICE": "cpu",
        "ISEGAN_AUDIT_LOG": "",
        "ISEGAN_MODEL_SHA256": file_sha256(generator_checkpoint),
        "ISEGAN_PARSER_SHA256": file_sha256(parser_checkpoint),
    }
    process = subprocess.Popen(
        [ISEGAN, "serve", "--port", str(port)], env=env, cwd=tmp_path,
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )  # fmt: skip
    ready = []
    deadline = time.monotonic() + 120
    while process.poll() is None and time.monotonic() < deadline:
        with contextlib.suppress(httpx.HTTPError):
            ready.append(httpx.get(f"http://127.0.0.1:{port}/health/ready", timeout=2).status_code)
        time.sleep(0.3)
    if process.poll() is None:
        process.kill()
    output = process.communicate(timeout=30)[0]
    assert process.returncode != 0
    assert 200 not in ready
    assert "ISEGAN_MODEL_SHA256 pins" in output and str(tampered) in output
    assert output.count("Traceback") <= 1, output[-2000:]


def test_the_right_hash_starts_and_a_bad_setting_is_refused(
    generator_checkpoint: Path, parser_checkpoint: Path, tmp_path: Path
) -> None:
    from isegan.service.prometheus import ServiceMetrics
    from isegan.service.runtime.state import ServiceState

    copy = tmp_path / "model.safetensors"
    shutil.copyfile(generator_checkpoint, copy)
    settings = ServiceSettings(
        checkpoint=copy, parser=parser_checkpoint, device="cpu", audit_log=None,
        model_sha256=file_sha256(generator_checkpoint).upper(), parser_sha256="",
    )  # fmt: skip
    state = ServiceState(settings, ServiceMetrics())
    state.start()
    try:
        assert state.ready
    finally:
        state.stop()
    with pytest.raises(ValueError, match="SHA-256 hex digest"):
        ServiceSettings(model_sha256="not-a-hash")


def test_compose_and_kubernetes_pin_the_bundled_files() -> None:
    model, parser = default_generator_path(), default_parser_path()
    assert model is not None and parser is not None
    for path in (REPO / "docker-compose.yml", REPO / "deploy/kubernetes/configmap.yaml"):
        text = path.read_text()
        assert file_sha256(model) in text, f"{path.name} pins another model"
        assert file_sha256(parser) in text, f"{path.name} pins another parser"
