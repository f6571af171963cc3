"""The audit log's hash chain: resumable, and every kind of tampering is found."""

from __future__ import annotations

import json
import threading
from pathlib import Path

import pytest

from isegan.service.audit import GENESIS, AuditLog, AuditLogError, verify_audit_log


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
