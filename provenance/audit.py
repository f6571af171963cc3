"""An append-only, hash-chained JSONL audit log of every image the service returned.

Each line is one JSON object with ``seq`` (1, 2, ...), ``prev_sha256`` (the SHA-256 of
the previous line's bytes, without its newline; 64 zeros for the first) and the
provenance record. A line is written with one ``write`` call on an ``O_APPEND`` file and
fsynced before the response is sent, so a response the client received always has its
record on disk, even if the server is killed right after. Records that arrive while an
fsync is under way share the next one (group commit): one ``write`` and one fsync per
group, each caller still waiting for its own record to be on disk. Editing, deleting or
reordering any line breaks the chain at that line, which :func:`verify_audit_log` finds.

Several processes may append to one log (the service and ``isegan synthesize`` on one
installation): each append holds an exclusive ``flock`` on the file and, when the file
grew since this process last wrote, continues the chain from its last line.

An append that fails (a full disk, an I/O error, a short write) leaves the file exactly
as it was: it is truncated back to its length before the append and fsynced, so the
next record never lands on a fragment. The log then reports itself unhealthy until a
probe (a scratch file of a record's size, written and fsynced beside it) or an append
succeeds again, so the service can turn away traffic instead of answering unrecorded.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from isegan.provenance.installation import watermark_record

GENESIS = "0" * 64


class AuditLogError(RuntimeError):
    """The log cannot be appended to safely (its last line is damaged)."""


class AuditUnavailableError(AuditLogError):
    """A record could not be written (disk full, read-only, I/O error); the file was left
    as it was before the attempt."""


@dataclass(frozen=True)
class VerifyReport:
    records: int  # valid records before the first break (all of them when ok)
    first_broken_line: int | None  # 1-based line number
    reason: str | None
    last_sha256: str = GENESIS  # SHA-256 of the last valid record: where the chain goes on

    @property
    def ok(self) -> bool:
        return self.first_broken_line is None


def _line_digest(line: bytes) -> str:
    return hashlib.sha256(line).hexdigest()


def verify_audit_log(path: Path) -> VerifyReport:
    """Walk the chain from the first line; report the first line that breaks it."""
    previous = GENESIS
    count = 0
    with path.open("rb") as handle:
        for number, raw in enumerate(handle, start=1):
            if not raw.endswith(b"\n"):
                return VerifyReport(count, number, "the line is incomplete (no newline)")
            line = raw[:-1]
            try:
                record = json.loads(line)
            except (json.JSONDecodeError, UnicodeDecodeError) as error:
                return VerifyReport(count, number, f"not JSON: {error}")
            if not isinstance(record, dict):
                return VerifyReport(count, number, "not a JSON object")
            if record.get("seq") != count + 1:
                return VerifyReport(
                    count, number, f"seq is {record.get('seq')!r}, expected {count + 1}"
                )
            if record.get("prev_sha256") != previous:
                return VerifyReport(
                    count, number, "prev_sha256 does not match the previous line's SHA-256"
                )
            previous = _line_digest(line)
            count += 1
    return VerifyReport(count, None, None, previous)


def _last_record(path: Path) -> tuple[int, str]:
    """The seq and SHA-256 of a log's last line, read from its end."""
    with path.open("rb") as handle:
        handle.seek(0, os.SEEK_END)
        size = handle.tell()
        chunk = 1 << 16
        while True:
            start = max(0, size - chunk)
            handle.seek(start)
            tail = handle.read(size - start)
            lines = tail.rstrip(b"\n").split(b"\n")
            if len(lines) > 1 or start == 0:
                break
            chunk *= 4
    last = lines[-1]
    if not last:
        return 0, GENESIS
    try:
        seq = int(json.loads(last)["seq"])
    except (ValueError, KeyError, TypeError) as error:
        raise AuditUnavailableError(f"the last line of {path} is damaged: {error}") from None
    return seq, _line_digest(last)


def read_records(path: Path) -> Iterator[dict[str, Any]]:
    """Every record of a log, in order (verify the chain separately)."""
    with path.open("rb") as handle:
        for raw in handle:
            if raw.strip():
                yield json.loads(raw)


def find_records(
    path: Path, *, case_id: str | None = None, record: int | None = None
) -> list[dict[str, Any]]:
    """The records of one case, and/or those whose watermark holds ``record`` (the
    watermark carries it modulo 2**20, so every record that matches is returned)."""
    found = []
    for entry in read_records(path):
        custody = entry.get("custody") or {}
        watermark = entry.get("watermark") or {}
        if case_id is not None and custody.get("case_id") != case_id:
            continue
        if record is not None and (
            not isinstance(watermark.get("record"), int)
            or watermark_record(watermark["record"]) != watermark_record(record)
        ):
            continue
        found.append(entry)
    return found


class _Ticket:
    """One record waiting to be committed, and what became of it."""

    def __init__(self, payload: dict[str, Any]) -> None:
        self.payload = payload
        self.done = False
        self._result: int | AuditUnavailableError = 0

    def settle(self, result: int | AuditUnavailableError) -> None:
        self._result, self.done = result, True

    def outcome(self) -> int:
        if isinstance(self._result, AuditUnavailableError):
            raise self._result
        return self._result


class AuditLog:
    """Appends chained records; safe to call from several threads."""

    def __init__(self, path: Path) -> None:
        self.path = path
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as error:
            raise AuditLogError(f"cannot open the audit log {path}: {error}") from None
        self._lock = threading.Lock()  # one commit at a time
        self._pending_lock = threading.Lock()
        self._pending: list[_Ticket] = []  # records waiting for the next commit
        self.commits = 0  # fsynced groups, for tests and metrics
        self._seq, self._previous = self._resume()
        try:
            self._fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o640)
        except OSError as error:
            raise AuditLogError(
                f"cannot open the audit log {path} for appending: {error}"
            ) from None
        self.healthy = True
        self.last_error: str | None = None
        self._last_size = 4096
        self._known_length = os.fstat(self._fd).st_size

    def _resume(self) -> tuple[int, str]:
        """Continue the chain where the file ends. A damaged log is not extended: the
        operator must look at it (``isegan audit verify``) and move it aside."""
        if not self.path.exists() or self.path.stat().st_size == 0:
            return 0, GENESIS
        report = verify_audit_log(self.path)
        if not report.ok:
            raise AuditLogError(
                f"audit log {self.path} is broken at line {report.first_broken_line} "
                f"({report.reason}); refusing to extend it. Keep it as evidence and point "
                "the service at a new file."
            )
        return report.records, report.last_sha256

    def append(self, payload: dict[str, Any]) -> int:
        """Write one record durably; returns its ``seq``. Raises
        :class:`AuditUnavailableError`, with the file unchanged, when it cannot.

        Appends from several threads are committed in groups: while one thread writes
        and fsyncs, the records that arrive queue up, and the next of their threads
        writes them all with one ``write`` and one fsync (group commit). Each caller
        still returns only once its own record is on disk; a group that cannot be
        written is rolled back whole and every caller in it gets the error."""
        ticket = _Ticket(payload)
        with self._pending_lock:
            self._pending.append(ticket)
        with self._lock:
            if not ticket.done:
                with self._pending_lock:
                    group, self._pending = self._pending, []
                fcntl.flock(self._fd, fcntl.LOCK_EX)
                try:
                    self._commit(group)
                finally:
                    fcntl.flock(self._fd, fcntl.LOCK_UN)
        return ticket.outcome()

    def _commit(self, group: list[_Ticket]) -> None:
        """Chain, write and fsync ``group`` as one; settle every ticket in it."""
        offset = os.fstat(self._fd).st_size
        if offset != self._known_length:  # another process appended since our last write
            self._seq, self._previous = _last_record(self.path)
        seq, previous, lines = self._seq, self._previous, []
        for ticket in group:
            seq += 1
            record = {"seq": seq, "prev_sha256": previous, **ticket.payload}
            line = json.dumps(record, separators=(",", ":"), sort_keys=True).encode()
            lines.append(line)
            previous = _line_digest(line)
        data = b"".join(line + b"\n" for line in lines)
        try:
            written = self._write(data)
            if written != len(data):
                raise OSError(f"short write: {written} of {len(data)} bytes")
            os.fsync(self._fd)
        except OSError as error:
            self._roll_back(offset)
            self.healthy = False
            self.last_error = f"cannot write to {self.path}: {error}"
            for ticket in group:
                ticket.settle(AuditUnavailableError(self.last_error))
            return
        for number, ticket in enumerate(group, start=self._seq + 1):
            ticket.settle(number)
        self._seq, self._previous = seq, previous
        self._last_size = max(len(line) for line in lines) + 1
        self._known_length = offset + len(data)
        self.healthy = True
        self.last_error = None
        self.commits += 1

    def _write(self, data: bytes) -> int:
        """One ``write`` call (a seam the fault tests replace)."""
        return os.write(self._fd, data)

    def _roll_back(self, offset: int) -> None:
        """Cut a partial line off; if even that fails, the next open's verify finds it."""
        try:
            os.ftruncate(self._fd, offset)
            os.fsync(self._fd)
        except OSError:
            pass

    def probe(self) -> bool:
        """Whether a record of the last one's size can be written and fsynced next to the
        log now; a success makes the log healthy again."""
        scratch = self.path.with_name(f".{self.path.name}.probe")
        try:
            descriptor = os.open(scratch, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            try:
                data = b"0" * self._last_size
                if os.write(descriptor, data) != len(data):
                    raise OSError("short write")
                os.fsync(descriptor)
            finally:
                os.close(descriptor)
                scratch.unlink(missing_ok=True)
        except OSError as error:
            self.last_error = f"cannot write to {self.path.parent}: {error}"
            return False
        if not os.access(self.path, os.W_OK):
            self.last_error = f"{self.path} is not writable"
            return False
        with self._lock:
            self.healthy = True
            self.last_error = None
        return True

    def close(self) -> None:
        with self._lock:
            os.close(self._fd)
