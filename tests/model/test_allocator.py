"""The malloc tuning takes effect where glibc runs, and then a repeated forward pass
stops faulting its activations in (real network, real page-fault counter)."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

SCRIPT = """
import resource, sys, torch
from isegan.model.allocator import keep_freed_memory
tuned = keep_freed_memory() if sys.argv[1] == "on" else False
net = torch.nn.Sequential(*[torch.nn.Conv2d(32, 32, 3, padding=1) for _ in range(6)]).eval()
x = torch.randn(2, 32, 256, 256)  # 16 MiB activations
with torch.inference_mode():
    for _ in range(3):
        net(x)
    before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
    for _ in range(5):
        net(x)
    faults = (resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before) / 5
print(tuned, faults)
"""


def _faults(mode: str, **env: str) -> tuple[str, float]:
    done = subprocess.run(
        [sys.executable, "-c", SCRIPT, mode], capture_output=True, text=True, check=True,
        env={**os.environ, "OMP_NUM_THREADS": "1", **env},
    )  # fmt: skip
    tuned, faults = done.stdout.split()
    return tuned, float(faults)


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc's mallopt")
def test_tuned_malloc_keeps_activations_and_stops_the_faults() -> None:
    tuned, faults_tuned = _faults("on")
    assert tuned == "True"
    _, faults_default = _faults("off")
    assert faults_default > 1000  # the activations come and go through mmap
    assert faults_tuned < faults_default / 20
    refused, _ = _faults("on", ISEGAN_MALLOC_TUNING="off")
    assert refused == "False"
