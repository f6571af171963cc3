"""The container files, checked without a Docker engine: the Dockerfile parsed, the
compose file and the monitoring config read as data, and the entry point run for real."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
import yaml
from dockerfile_parse import DockerfileParser

from isegan.service.prometheus import ServiceMetrics
from tests.conftest import REPO_ROOT
from tests.e2e.test_serve import free_port

DOCKERFILE = REPO_ROOT / "docker" / "Dockerfile"


@pytest.fixture(scope="module")
def dockerfile() -> DockerfileParser:
    parser = DockerfileParser(fileobj=DOCKERFILE.open("rb"))
    return parser


def _stages(parser: DockerfileParser) -> list[list[dict]]:
    stages: list[list[dict]] = []
    for instruction in parser.structure:
        if instruction["instruction"] == "FROM":
            stages.append([])
        if stages:
            stages[-1].append(instruction)
    return stages


def test_dockerfile_is_multi_stage_pinned_non_root_with_healthcheck(dockerfile) -> None:
    stages = _stages(dockerfile)
    assert len(stages) >= 3
    base = re.search(r"^ARG BASE_IMAGE=(\S+)$", DOCKERFILE.read_text(), re.MULTILINE)
    assert base is not None
    image, _, tag = base.group(1).partition(":")
    assert image == "nvidia/cuda" and re.match(r"^\d+\.\d+\.\d+-", tag), base.group(1)
    final = {i["instruction"]: i["value"] for i in stages[-1]}
    user = final["USER"].split(":")[0]
    assert user not in ("root", "0") and int(user) >= 1000
    assert "isegan.service.healthcheck" in final["HEALTHCHECK"]
    assert final["STOPSIGNAL"] == "SIGTERM"
    assert json.loads(final["ENTRYPOINT"]) == ["isegan-entrypoint"]
    assert json.loads(final["CMD"]) == ["serve"]
    assert "ARG TORCH_INDEX_URL" in DOCKERFILE.read_text()  # the CPU-only build switch


def test_every_copied_path_exists_and_passes_dockerignore(dockerfile) -> None:
    allowed = [
        line[1:].rstrip("/")
        for line in (REPO_ROOT / ".dockerignore").read_text().splitlines()
        if line.startswith("!")
    ]
    for instruction in dockerfile.structure:
        if instruction["instruction"] != "COPY" or "--from" in instruction["value"]:
            continue
        *sources, _ = instruction["value"].split()
        for source in sources:
            assert (REPO_ROOT / source).exists(), source
            assert any(source == a or source.startswith(a + "/") for a in allowed), source


def test_constraints_pin_every_runtime_dependency() -> None:
    import tomllib

    pins = {
        line.split("==")[0]
        for line in (REPO_ROOT / "docker" / "constraints.txt").read_text().splitlines()
        if "==" in line
    }
    declared = tomllib.loads((REPO_ROOT / "pyproject.toml").read_text())["project"]["dependencies"]
    names = {re.split(r"[<>=!~\[ ]", d)[0].lower().replace("_", "-") for d in declared}
    assert names <= pins, names - pins


@pytest.fixture(scope="module")
def compose() -> dict:
    return yaml.safe_load((REPO_ROOT / "docker-compose.yml").read_text())


def test_compose_reserves_a_gpu_and_keeps_audit_and_models_volumes(compose) -> None:
    service = compose["services"]["isegan"]
    (device,) = service["deploy"]["resources"]["reservations"]["devices"]
    assert device["driver"] == "nvidia" and device["capabilities"] == ["gpu"]
    assert device["count"] == 1
    assert "profiles" not in service  # `docker compose up` starts it
    volumes = service["volumes"]
    assert any(v.endswith(":/models:ro") for v in volumes)
    assert any(v.startswith("isegan-audit:/var/lib/isegan/audit") for v in volumes)
    assert any(v.startswith("isegan-data:/var/lib/isegan/data") for v in volumes)
    assert "isegan.service.healthcheck" in service["healthcheck"]["test"]
    cpu = compose["services"]["isegan-cpu"]
    assert cpu["profiles"] == ["cpu"] and "deploy" not in cpu
    assert cpu["environment"]["ISEGAN_DEVICE"] == "cpu"
    assert cpu["build"]["args"]["TORCH_INDEX_URL"].endswith("/cpu")
    for name in ("prometheus", "grafana"):
        assert compose["services"][name]["profiles"] == ["monitoring"]
    assert compose["services"]["train"]["profiles"] == ["train"]


def _exported_metric_names() -> set[str]:
    metrics = ServiceMetrics()
    metrics.observe_request("/synthesize", "POST", 200, 0.1)
    metrics.observe_stages({"parse": 0.1})
    metrics.batch_size.observe(1)
    metrics.rejected.labels("queue_full").inc()
    metrics.model.info({"model_id": "x"})
    text = metrics.exposition().decode()
    return set(re.findall(r"^(isegan_[a-z_]+)", text, re.MULTILINE))


def test_dashboard_and_autoscaler_query_metrics_the_service_exports() -> None:
    exported = _exported_metric_names()
    dashboard = json.loads(
        (REPO_ROOT / "docker" / "monitoring" / "grafana" / "dashboards" / "isegan.json").read_text()
    )
    queried = {
        name
        for panel in dashboard["panels"]
        for target in panel["targets"]
        for name in re.findall(r"isegan_[a-z_]+", target["expr"])
    }
    assert queried and queried <= exported, queried - exported
    hpa = yaml.safe_load((REPO_ROOT / "deploy" / "kubernetes" / "hpa.yaml").read_text())
    assert hpa["spec"]["metrics"][0]["pods"]["metric"]["name"] in exported
    prometheus = yaml.safe_load(
        (REPO_ROOT / "docker" / "monitoring" / "prometheus.yml").read_text()
    )
    targets = prometheus["scrape_configs"][0]["static_configs"][0]["targets"]
    assert "isegan:8000" in targets


def test_entrypoint_serves_passes_subcommands_and_stops_on_sigterm(
    tmp_path: Path, generator_checkpoint: Path, parser_checkpoint: Path
) -> None:
    port = free_port()
    env = {
        **os.environ,
        "PATH": f"{Path(sys.executable).parent}:{os.environ['PATH']}",
        "ISEGAN_PORT": str(port),
        "ISEGAN_CHECKPOINT": str(generator_checkpoint),
        "ISEGAN_PARSER": str(parser_checkpoint),
        "ISEGAN_DEVICE": "cpu",
        "ISEGAN_AUDIT_LOG": str(tmp_path / "audit.jsonl"),
        "ISEGAN_HOST": "127.0.0.1",
    }
    entrypoint = str(REPO_ROOT / "docker" / "entrypoint.sh")
    healthcheck = [sys.executable, "-m", "isegan.service.healthcheck"]
    assert subprocess.run(healthcheck, env=env, capture_output=True, check=False).returncode == 1
    server = subprocess.Popen(["sh", entrypoint], env=env, cwd=tmp_path)  # no args: serve
    try:
        deadline = time.monotonic() + 120
        while subprocess.run(healthcheck, env=env, capture_output=True, check=False).returncode:
            assert server.poll() is None, "the entry point exited"
            assert time.monotonic() < deadline, "not ready in 120 s"
            time.sleep(0.5)
        assert httpx.get(f"http://127.0.0.1:{port}/health/live").json()["status"] == "ok"
        server.send_signal(signal.SIGTERM)
        assert server.wait(60) in (0, -signal.SIGTERM)  # exec'd: the signal reached uvicorn
    finally:
        if server.poll() is None:
            server.kill()
    verify = subprocess.run(
        ["sh", entrypoint, "audit", "verify", str(tmp_path / "audit.jsonl")],
        env=env, capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert verify.returncode == 0, verify.stdout + verify.stderr
    echo = subprocess.run(
        ["sh", entrypoint, "echo", "hello"], env=env, capture_output=True, text=True, check=False
    )
    assert echo.stdout == "hello\n"
