"""The audit log's hash chain: resumable, and every kind of tampering is found."""

from __future__ import annotations

import json
import threading
import time
from pathlib import Path

import pytest

from isegan.provenance.audit import (
    GENESIS,
    AuditLog,
    AuditLogError,
    AuditUnavailableError,
    verify_audit_log,
)


def write_records(path: Path, count: int) -> None:
    log = AuditLog(path)
    for index in range(count):
        log.append({"request_id": f"r{index}", "outputs": {"photo": f"{index:064x}"}})
    log.close()


def test_chain_links_every_record_and_resumes_after_reopening(tmp_path: Path) -> None:
    path = tmp_path / "audit.jsonl"
    write_records(path, 3)
    write_records(path, 2)  # a restarted service continues the same chain
    records = [json.loads(line) for line in path.read_text().splitlines()]
    assert [r["seq"] for r in records] == [1, 2, 3, 4, 5]
    assert records[0]["prev_sha256"] == GENESIS
    assert [r["request_id"] for r in records] == ["r0", "r1", "r2", "r0", "r1"]
    report = verify_audit_log(path)
    assert report.ok and report.records == 5


def test_concurrent_appends_keep_the_chain(tmp_path: Path) -> None:
    path = tmp_path / "audit.jsonl"
    log = AuditLog(path)
    threads = [
        threading.Thread(target=lambda i=i: [log.append({"t": i, "k": k}) for k in range(25)])
        for i in range(8)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    log.close()
    assert verify_audit_log(path).records == 200


def _tamper(lines: list[str], how: str) -> list[str]:
    if how == "edit":
        record = json.loads(lines[1])
        record["request_id"] = "someone-else"
        lines[1] = json.dumps(record, separators=(",", ":"), sort_keys=True)
    elif how == "delete":
        del lines[1]
    elif how == "swap":
        lines[1], lines[2] = lines[2], lines[1]
    elif how == "garbage":
        lines[1] = "not json"
    return lines


@pytest.mark.parametrize(
    ("how", "line", "reason"),
    [
        ("edit", 3, "prev_sha256"),
        ("delete", 2, "seq"),
        ("swap", 2, "seq"),
        ("garbage", 2, "not JSON"),
    ],
)
def test_tampering_is_found_at_the_first_broken_line(tmp_path, how, line, reason) -> None:
    path = tmp_path / "audit.jsonl"
    write_records(path, 4)
    path.write_text("\n".join(_tamper(path.read_text().splitlines(), how)) + "\n")
    report = verify_audit_log(path)
    assert not report.ok
    assert report.first_broken_line == line
    assert reason in (report.reason or "")
    with pytest.raises(AuditLogError, match=f"broken at line {line}"):
        AuditLog(path)


def test_a_torn_last_line_is_reported(tmp_path: Path) -> None:
    path = tmp_path / "audit.jsonl"
    write_records(path, 2)
    path.write_bytes(path.read_bytes()[:-10])
    report = verify_audit_log(path)
    assert (report.first_broken_line, report.records) == (2, 1)


class _FailingWrites(AuditLog):
    """Writes fail after ``budget`` more bytes: a short write, then ENOSPC."""

    budget = 10**9

    def _write(self, data: bytes) -> int:
        if self.budget >= len(data):
            self.budget -= len(data)
            return super()._write(data)
        if self.budget > 0:
            part = data[: self.budget]
            self.budget = 0
            return super()._write(part)  # a short write leaves a fragment behind
        raise OSError(28, "No space left on device")


def test_a_failed_append_leaves_the_file_as_it_was(tmp_path: Path) -> None:
    path = tmp_path / "audit.jsonl"
    log = _FailingWrites(path)
    log.append({"request_id": "r0"})
    before = path.read_bytes()
    log.budget = 7  # the next record is longer: a short write
    with pytest.raises(AuditUnavailableError, match="short write"):
        log.append({"request_id": "r1"})
    assert path.read_bytes() == before and not log.healthy
    with pytest.raises(AuditUnavailableError, match="No space"):
        log.append({"request_id": "r2"})
    assert path.read_bytes() == before
    log.budget = 10**9  # space is back
    assert log.append({"request_id": "r3"}) == 2 and log.healthy
    log.close()
    report = verify_audit_log(path)
    assert report.ok and report.records == 2
    assert [json.loads(line)["request_id"] for line in path.read_text().splitlines()] == [
        "r0",
        "r3",
    ]


def test_a_full_filesystem_keeps_the_chain(small_disk: Path) -> None:
    """A real 64 KiB tmpfs as the log's directory: append until the disk is full, free
    space, append again; the chain verifies and holds every record that was accepted."""
    filler = small_disk / "filler"
    filler.write_bytes(b"f" * 16384)  # room to free later
    log = AuditLog(small_disk / "audit.jsonl")
    accepted = []
    padding = "x" * 1500
    for index in range(200):
        try:
            log.append({"request_id": f"r{index}", "padding": padding})
        except AuditUnavailableError:
            break
        accepted.append(f"r{index}")
    assert 10 < len(accepted) < 200 and not log.healthy
    assert not log.probe()  # still full
    filler.unlink()  # free space
    assert log.probe() and log.healthy
    log.append({"request_id": "after", "padding": padding})
    accepted.append("after")
    log.close()
    report = verify_audit_log(small_disk / "audit.jsonl")
    assert report.ok and report.records == len(accepted)
    lines = (small_disk / "audit.jsonl").read_text().splitlines()
    assert [json.loads(line)["request_id"] for line in lines] == accepted


def test_probe_reports_an_unwritable_directory(tmp_path: Path) -> None:
    log = AuditLog(tmp_path / "logs" / "audit.jsonl")
    assert log.probe() and log.healthy
    log.path = tmp_path / "missing-dir" / "audit.jsonl"  # as if the directory vanished
    assert not log.probe() and "cannot write" in (log.last_error or "")
    log.close()


class _SlowWrites(AuditLog):
    """Every ``write`` takes ``delay`` seconds (a slow disk), so appends pile up behind
    it; ``fail_from`` makes that write call and every later one fail."""

    delay = 0.05
    fail_from: int | None = None
    calls = 0

    def _write(self, data: bytes) -> int:
        self.calls += 1
        time.sleep(self.delay)
        if self.fail_from is not None and self.calls >= self.fail_from:
            raise OSError(5, "Input/output error")
        return super()._write(data)


def _append_from_threads(log: AuditLog, count: int) -> list[int | str]:
    """``count`` threads append at once; each one's seq, or its error's text."""
    outcomes: list[int | str] = [0] * count
    start = threading.Barrier(count)

    def one(index: int) -> None:
        start.wait()
        try:
            outcomes[index] = log.append({"request_id": f"t{index}"})
        except AuditUnavailableError as error:
            outcomes[index] = str(error)

    threads = [threading.Thread(target=one, args=(i,)) for i in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return outcomes


def test_concurrent_appends_share_fsyncs_and_keep_the_chain(tmp_path: Path) -> None:
    path = tmp_path / "audit.jsonl"
    log = _SlowWrites(path)
    outcomes = _append_from_threads(log, 16)
    log.close()
    assert sorted(outcomes) == list(range(1, 17))  # every caller got its own seq
    assert 2 <= log.commits <= 8  # grouped: far fewer writes and fsyncs than records
    report = verify_audit_log(path)
    assert report.ok and report.records == 16
    lines = [json.loads(line) for line in path.read_text().splitlines()]
    assert {line["request_id"]: line["seq"] for line in lines} == {
        f"t{index}": seq for index, seq in enumerate(outcomes)
    }


def test_a_failed_group_is_refused_whole_and_leaves_the_file_as_it_was(tmp_path: Path) -> None:
    path = tmp_path / "audit.jsonl"
    log = _SlowWrites(path)
    log.fail_from = 2  # the first group is written; every later one fails
    outcomes = _append_from_threads(log, 8)
    written = [o for o in outcomes if isinstance(o, int)]
    refused = [o for o in outcomes if isinstance(o, str)]
    assert len(written) >= 1 and len(refused) >= 1 and len(written) + len(refused) == 8
    assert all("Input/output error" in text for text in refused) and not log.healthy
    report = verify_audit_log(path)
    assert report.ok and report.records == len(written)
    log.fail_from = None
    assert log.append({"request_id": "after"}) == len(written) + 1 and log.healthy
    log.close()
    assert verify_audit_log(path).records == len(written) + 1
