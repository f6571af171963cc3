"""`isegan bench` end to end on the session's small random-weight checkpoints: every
path runs, and --json carries the figures docs/performance.md's speed tables is built from."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from torch import nn

from isegan.cli.benchmark import count_flops, stage_breakdown, summarise


def test_bench_json_reports_every_path_against_the_baseline(
    generator_checkpoint: Path, parser_checkpoint: Path, cufs_dir: Path, test_ids: list[str]
) -> None:
    sketches = [cufs_dir / "sketches" / f"{name}.png" for name in test_ids[:3]]
    command = [
        sys.executable, "-m", "isegan.cli.main", "bench",
        "--checkpoint", str(generator_checkpoint), "--parser", str(parser_checkpoint),
        "--device", "cpu", "--sketches", *map(str, sketches),
        "--batch-sizes", "1", "2", "--calls", "1", "--rounds", "2", "--warmup", "1",
        "--peers", "--json",
    ]  # fmt: skip
    done = subprocess.run(command, capture_output=True, text=True, timeout=600, check=False)
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)

    names = [(path["name"], path["batch_size"]) for path in report["paths"]]
    assert names[0] == ("eager-fp32", 1)
    assert ("fp32+channels_last+fold_bn+subpixel+direct_resize", 1) in names
    assert {("default (backend auto)", 1), ("default (backend auto)", 2)} <= set(names)
    for path in report["paths"]:
        if path["name"] != "default (backend auto)":
            assert path["backends"] == {"parser": "torch", "generators": "torch"}
        assert set(path["backends"].values()) <= {"torch", "openvino"}
    assert any(size == 2 for _, size in names)  # the batched path
    assert report["baseline"] == report["paths"][0]
    assert report["baseline"]["speedup"] == 1.0
    baseline_rate = report["baseline"]["images_per_s"]
    for path in report["paths"]:
        assert path["images_per_s"] > 0
        assert path["latency_p95_ms"] >= path["latency_p50_ms"] > 0
        assert abs(path["speedup"] - path["images_per_s"] / baseline_rate) < 1e-9
        assert 0 < path["peak_fraction"] < 1
        assert path["peak_memory_mib"] > 0
        assert path["first_call_ms"] > 0
        stages = path["stage_ms_per_image"]
        assert set(stages) == {"parse", "stage1", "stage2", "postprocess"}
        if path["backends"]["generators"] == "openvino":  # G1 and G2 as one graph
            assert stages.pop("stage2") == 0
        assert min(stages.values()) > 0
        # the stages are parts of each call; with two calls each median is a mean
        whole = path["latency_p50_ms"] / path["batch_size"]
        assert sum(stages.values()) <= whole * 1.001
        assert path["over_generators"] == pytest.approx(
            whole / (stages["stage1"] + stages.get("stage2", 0))
        )
        assert path["over_generators"] > 1
        assert path["minor_faults_per_call"] >= 0
    assert report["gflop_per_image"] > 0
    assert report["matmul_peak_gflops"]["fp32"] > 0
    assert report["sketches"] == 3
    assert report["best"]["images_per_s"] == max(p["images_per_s"] for p in report["paths"])
    assert "2 rounds of 1 calls per path" in report["method"]

    # --peers: G1+G2 alone under torch and ONNX Runtime (a dev dependency), same rounds
    peers = report["peers"]
    default = next(
        p for p in report["paths"] if p["name"].startswith("default") and p["batch_size"] == 1
    )
    assert peers["pipeline_ms_batch1"] == default["latency_p50_ms"]  # medians, as the peers'
    runtimes = {(row["runtime"], row["batch_size"]) for row in peers["rows"]}
    for runtime in (
        "torch eager fp32",
        "isegan torch",
        "isegan default",
        "onnxruntime",
        "openvino",
    ):
        assert {(runtime, 1), (runtime, 4)} <= runtimes
    for row in peers["rows"]:
        assert row["ms_per_image"] > 0
        if row["runtime"] in ("torch eager fp32", "onnxruntime"):  # both fp32
            assert row["max_difference_grey_levels"] < 0.01
    assert peers["pipeline_over_fastest_peer"] == pytest.approx(
        peers["pipeline_ms_batch1"]
        / min(r["ms_per_image"] for r in peers["rows"]
              if r["batch_size"] == 1 and not r["runtime"].startswith(("torch", "isegan")))
    )  # fmt: skip


def test_flop_count_is_twice_the_multiply_adds_of_a_convolution() -> None:
    conv = nn.Conv2d(3, 16, kernel_size=3, padding=1, bias=False)
    image = torch.randn(2, 3, 32, 32)
    expected = 2 * (2 * 16 * 32 * 32) * (3 * 3 * 3)  # outputs x (kernel MACs), x2
    assert count_flops(lambda: conv(image)) == expected


def test_summary_figures_follow_from_the_timings() -> None:
    result = summarise("p", "fp32", 4, [0.5, 0.5, 1.0], 10**9, 100.0, None)
    assert result.images_per_s == 12 / 2.0
    assert result.ms_per_image == 1000 / 6
    assert result.latency_p50_ms == 500
    assert result.latency_p95_ms == 1000
    assert result.gflops_per_s == 6.0
    assert result.peak_fraction == 0.06


def test_stage_breakdown_is_per_image_medians_against_the_generators() -> None:
    timings = [
        {"parse": 0.02, "stage1": 0.10, "stage2": 0.06, "postprocess": 0.02},
        {"parse": 0.04, "stage1": 0.14, "stage2": 0.10, "postprocess": 0.02},
        {"parse": 0.03, "stage1": 0.12, "stage2": 0.08, "postprocess": 0.04},
    ]
    stages, over = stage_breakdown(timings, [0.22, 0.30, 0.28], batch_size=2)
    assert stages == pytest.approx(
        {"parse": 15.0, "stage1": 60.0, "stage2": 40.0, "postprocess": 10.0}
    )
    assert over == pytest.approx(140.0 / 100.0)
