"""The audit log on a full disk, over real HTTP: the service refuses to answer what it
cannot record (503 audit-unavailable), says so on /health/ready and in /metrics, and
resumes with an intact chain once space returns. The disk is a real 64 KiB tmpfs."""

from __future__ import annotations

import os
import subprocess
from collections import Counter
from pathlib import Path

import httpx
import pytest

from isegan.provenance.audit import verify_audit_log
from tests.service.conftest import service_settings
from tests.service.server import running_server


def _synthesize(url: str, sketch: bytes) -> httpx.Response:
    files = {"sketch": ("sketch.png", sketch, "image/png")}
    return httpx.post(url + "/synthesize", files=files, timeout=60)


def test_full_disk_gives_503_and_the_chain_survives(
    small_disk: Path, generator_checkpoint: Path, parser_checkpoint: Path, sketch_bytes: bytes
) -> None:
    audit = small_disk / "audit.jsonl"
    filler = small_disk / "filler"
    settings = service_settings(generator_checkpoint, parser_checkpoint, audit)
    with running_server(settings) as url:
        statuses: Counter[int] = Counter()
        refused = None
        for _ in range(120):  # records are about 1 KiB: the disk fills well before this
            response = _synthesize(url, sketch_bytes)
            statuses[response.status_code] += 1
            if response.status_code != 200:
                refused = response
                break
            # leave just too little room for the next record once it gets tight
            free = os.statvfs(small_disk).f_bavail * os.statvfs(small_disk).f_frsize
            if free < 8192 and not filler.exists():
                filler.write_bytes(b"f" * max(free - 512, 0))
        assert refused is not None, f"the disk never filled: {statuses}"
        assert refused.status_code == 503
        assert refused.headers["content-type"].startswith("application/problem+json")
        assert refused.json()["type"].endswith("/audit-unavailable")
        assert int(refused.headers["Retry-After"]) > 0
        ready = httpx.get(url + "/health/ready", timeout=10)
        assert ready.status_code == 503 and ready.json()["status"] == "audit-unavailable"
        metrics = httpx.get(url + "/metrics", timeout=10).text
        assert "isegan_audit_failures_total 1.0" in metrics
        assert "isegan_audit_healthy 0.0" in metrics
        assert _synthesize(url, sketch_bytes).status_code == 503  # still full
        filler.unlink()  # space returns
        assert httpx.get(url + "/health/ready", timeout=10).status_code == 200
        after = _synthesize(url, sketch_bytes)
        assert after.status_code == 200
        statuses[200] += 1
    report = verify_audit_log(audit)
    assert report.ok, report.reason
    assert report.records == statuses[200]  # every 200 has its record, nothing else
    print(
        f"full disk: answers {dict(statuses)} (the last 200 after freeing space); records {report.records}"
    )


def test_read_only_log_directory_is_refused_at_start(
    small_disk: Path, generator_checkpoint: Path, parser_checkpoint: Path
) -> None:
    """A log directory that cannot be written at start: the service does not start (it
    could record nothing), with a message naming the file. (A running log whose
    filesystem turns read-only fails its appends like a full disk, above.)"""
    from isegan.provenance.audit import AuditLogError
    from isegan.service.prometheus import ServiceMetrics
    from isegan.service.runtime.state import ServiceState

    subprocess.run(["mount", "-o", "remount,ro", str(small_disk)], check=True)
    settings = service_settings(generator_checkpoint, parser_checkpoint, small_disk / "audit.jsonl")
    state = ServiceState(settings, ServiceMetrics())
    with pytest.raises(AuditLogError, match=r"cannot open the audit log .*audit\.jsonl"):
        state.start()
    assert not state.ready
    state.stop()
