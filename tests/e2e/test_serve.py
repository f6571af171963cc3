"""``isegan serve`` as a separate process: the bundled model with no flags, SIGKILL in a
flood (the audit log survives), SIGTERM (in-flight requests finish), the remote client
CLI and ``isegan audit verify``."""

from __future__ import annotations

import asyncio
import hashlib
import json
import os
import signal
import socket
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest

from isegan.model.stamps import file_sha256
from isegan.model.weights.pretrained import default_generator_path
from isegan.service.client import wait_until_ready

ISEGAN = str(Path(sys.executable).with_name("isegan"))


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextmanager
def serve(
    cwd: Path, env: dict[str, str], timeout: float = 180
) -> Iterator[tuple[str, subprocess.Popen[str]]]:
    port = free_port()
    log = (cwd / "server.log").open("w")
    process = subprocess.Popen(
        [ISEGAN, "serve", "--port", str(port)],
        cwd=cwd,
        env={**os.environ, **env},
        stdout=log,
        stderr=subprocess.STDOUT,
        text=True,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        wait_until_ready(
            url,
            alive=lambda: process.poll() is None,
            timeout=timeout,
            why_not=lambda: f"server log: {(cwd / 'server.log').read_text()[-3000:]}",
        )
        yield url, process
    finally:
        if process.poll() is None:
            process.kill()
        process.wait(30)
        log.close()


@pytest.fixture
def tiny_env(generator_checkpoint: Path, parser_checkpoint: Path) -> dict[str, str]:
    return {
        "ISEGAN_CHECKPOINT": str(generator_checkpoint),
        "ISEGAN_PARSER": str(parser_checkpoint),
        "ISEGAN_DEVICE": "cpu",
        "ISEGAN_MAX_BATCH_WAIT_MS": "20",
    }


def test_serve_with_no_flags_uses_the_bundled_model(
    tmp_path: Path, cufs_dir: Path, test_ids
) -> None:
    bundled = default_generator_path()
    assert bundled is not None
    with serve(tmp_path, {}) as (url, _):
        sketch = (cufs_dir / "sketches" / f"{test_ids[0]}.png").read_bytes()
        response = httpx.post(url + "/synthesize", files={"sketch": ("s.png", sketch)}, timeout=120)
        assert response.status_code == 200
        assert response.json()["model_id"] == file_sha256(bundled)
    # the default audit log lands in the working directory and verifies
    verify = subprocess.run([ISEGAN, "audit", "verify", str(tmp_path / "isegan-audit.jsonl")],
                            capture_output=True, text=True, check=False)  # fmt: skip
    assert verify.returncode == 0, verify.stdout
    assert "1 records" in verify.stdout


async def _flood_until_killed(url: str, sketch: bytes, process: subprocess.Popen[str]) -> list[str]:
    """Keep 8 requests in flight; SIGKILL the server after 10 answers. Returns the request
    ids of every 200 the clients received."""
    served: list[str] = []
    async with httpx.AsyncClient(timeout=60) as client:

        async def one(index: int) -> None:
            request_id = f"flood-{index}"
            try:
                response = await client.post(
                    url + "/synthesize",
                    files={"sketch": ("s.png", sketch)},
                    headers={"X-Request-ID": request_id},
                )
            except httpx.TransportError:
                return
            if response.status_code == 200:
                served.append(request_id)
                if len(served) == 10:
                    process.send_signal(signal.SIGKILL)

        await asyncio.gather(*(one(i) for i in range(200)))
    return served


def test_sigkill_during_a_flood_leaves_a_verifiable_log_with_every_200(
    tmp_path: Path, tiny_env, cufs_dir: Path, test_ids
) -> None:
    sketch = (cufs_dir / "sketches" / f"{test_ids[0]}.png").read_bytes()
    log = tmp_path / "audit.jsonl"
    with serve(tmp_path, {**tiny_env, "ISEGAN_AUDIT_LOG": str(log)}) as (url, process):
        served = asyncio.run(_flood_until_killed(url, sketch, process))
        assert process.wait(30) == -signal.SIGKILL
    assert len(served) >= 10
    verify = subprocess.run(
        [ISEGAN, "audit", "verify", str(log)], capture_output=True, text=True, check=False
    )
    assert verify.returncode == 0, verify.stdout
    logged = {json.loads(line)["request_id"] for line in log.read_text().splitlines()}
    assert set(served) <= logged

    # the service resumes the same chain after the crash
    with serve(tmp_path, {**tiny_env, "ISEGAN_AUDIT_LOG": str(log)}) as (url, _):
        assert (
            httpx.post(
                url + "/synthesize", files={"sketch": ("s.png", sketch)}, timeout=60
            ).status_code
            == 200
        )
    assert subprocess.run([ISEGAN, "audit", "verify", str(log)], check=False).returncode == 0


def test_audit_verify_reports_the_first_tampered_record(
    tmp_path: Path, tiny_env, cufs_dir, test_ids
) -> None:
    sketch = (cufs_dir / "sketches" / f"{test_ids[0]}.png").read_bytes()
    log = tmp_path / "audit.jsonl"
    with serve(tmp_path, {**tiny_env, "ISEGAN_AUDIT_LOG": str(log)}) as (url, _):
        for _ in range(4):
            httpx.post(url + "/synthesize", files={"sketch": ("s.png", sketch)}, timeout=60)
    lines = log.read_text().splitlines()
    assert len(lines) == 4
    record = json.loads(lines[2])
    record["model_id"] = "0" * 64  # someone rewrites which model made image 3
    lines[2] = json.dumps(record, separators=(",", ":"), sort_keys=True)
    log.write_text("\n".join(lines) + "\n")
    verify = subprocess.run(
        [ISEGAN, "audit", "verify", str(log)], capture_output=True, text=True, check=False
    )
    assert verify.returncode == 1
    assert "line 4" in verify.stdout  # record 3's hash no longer matches record 4's link
    # and a damaged log is never extended
    with (
        pytest.raises(RuntimeError, match="refusing to extend"),
        serve(tmp_path, {**tiny_env, "ISEGAN_AUDIT_LOG": str(log)}, timeout=60),
    ):
        pass


def test_sigterm_lets_in_flight_requests_finish(
    tmp_path: Path, tiny_env, cufs_dir, test_ids
) -> None:
    sketch = (cufs_dir / "sketches" / f"{test_ids[0]}.png").read_bytes()
    with serve(tmp_path, {**tiny_env, "ISEGAN_MAX_BATCH_SIZE": "1"}) as (url, process):

        async def in_flight() -> list[int]:
            async with httpx.AsyncClient(timeout=60) as client:
                requests = [
                    asyncio.ensure_future(
                        client.post(url + "/synthesize", files={"sketch": ("s.png", sketch)})
                    )
                    for _ in range(6)
                ]
                await asyncio.sleep(0.3)  # all six sent; the worker runs them one at a time
                process.send_signal(signal.SIGTERM)
                return [r.status_code for r in await asyncio.gather(*requests)]

        statuses = asyncio.run(in_flight())
        assert statuses == [200] * 6
        # uvicorn re-raises SIGTERM once its graceful shutdown is done
        assert process.wait(60) in (0, -signal.SIGTERM)
    assert "isegan.service.runtime.state [-] stopped" in (tmp_path / "server.log").read_text()


def test_remote_synthesize_over_a_folder_writes_photos_and_manifest(
    tmp_path: Path, tiny_env, cufs_dir: Path, test_ids
) -> None:
    folder = tmp_path / "sketches"
    folder.mkdir()
    for name in test_ids[:3]:
        (folder / f"{name}.png").write_bytes((cufs_dir / "sketches" / f"{name}.png").read_bytes())
    out = tmp_path / "out"
    with serve(tmp_path, tiny_env) as (url, _):
        result = subprocess.run(
            [ISEGAN, "synthesize", "--url", url, str(folder), "-o", str(out), "--extras"],
            capture_output=True, text=True, timeout=300, check=False,
        )  # fmt: skip
    assert result.returncode == 0, result.stderr
    manifest = json.loads((out / "provenance.json").read_text())
    assert [Path(e["sketch"]).stem for e in manifest["results"]] == sorted(test_ids[:3])
    for entry in manifest["results"]:
        stem = Path(entry["sketch"]).stem
        assert entry["files"]["photo"] == f"{stem}.png"
        photo = (out / f"{stem}.png").read_bytes()
        assert entry["provenance"]["outputs"]["photo"] == hashlib.sha256(photo).hexdigest()
        assert (out / f"{stem}.parsing.png").is_file() and (out / f"{stem}.stage1.png").is_file()
