"""One installation's identity, signing key and record numbers, kept in its data folder.

With no organisation key configured, every output is still signed: the first service or
CLI run makes an installation id, an ES256 key and a self-signed chain for it in the data
folder (``ISEGAN_DATA_DIR``, default ``$XDG_DATA_HOME/isegan``), private files mode 0600
in a 0700 folder. Later runs, and other processes on the same folder, use the same ones.

What such a signature proves: the image and its manifest are unchanged since a holder of
that installation's key signed them, and which installation that was. What it does not
prove: who operates the installation; a verifier learns that only by getting the
installation's root (``isegan-root.pem``) from its operator over a channel they trust,
and until then the verdict is ``untrusted``.

Record numbers go into the watermark; they are handed out in blocks reserved under a file
lock, so concurrent processes never share one, and a number is never reused.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import secrets
import shutil
import tempfile
import threading
from dataclasses import dataclass
from pathlib import Path

from isegan.model.stamps import utc_now
from isegan.provenance.credentials import CHAIN_FILE, KEY_FILE, ROOT_FILE, generate_dev_chain

DATA_DIR_VARIABLE = "ISEGAN_DATA_DIR"
IDENTITY_FILE = "installation.json"
CREDENTIALS_FOLDER = "credentials"
RECORDS_FILE = "records.next"
ORGANISATION_PREFIX = "isegan installation "
RECORD_BLOCK = 256


def default_data_dir() -> Path:
    """``$ISEGAN_DATA_DIR``, else ``$XDG_DATA_HOME/isegan``, else ``~/.local/share/isegan``."""
    if os.environ.get(DATA_DIR_VARIABLE):
        return Path(os.environ[DATA_DIR_VARIABLE])
    base = os.environ.get("XDG_DATA_HOME") or Path.home() / ".local" / "share"
    return Path(base) / "isegan"


def installation_of_organisation(organisation: str) -> str | None:
    """The installation id in a certificate organisation this module wrote, else None."""
    if organisation.startswith(ORGANISATION_PREFIX):
        return organisation[len(ORGANISATION_PREFIX) :]
    return None


@dataclass(frozen=True)
class Installation:
    folder: Path
    id: str
    created: str

    @property
    def key(self) -> Path:
        return self.folder / CREDENTIALS_FOLDER / KEY_FILE

    @property
    def chain(self) -> Path:
        return self.folder / CREDENTIALS_FOLDER / CHAIN_FILE

    @property
    def root(self) -> Path:
        return self.folder / CREDENTIALS_FOLDER / ROOT_FILE

    @classmethod
    def open(cls, folder: Path | None = None) -> Installation:
        """The installation in ``folder`` (default: the data folder), made on first use."""
        folder = folder or default_data_dir()
        folder.mkdir(mode=0o700, parents=True, exist_ok=True)
        identity = _create_once(
            folder / IDENTITY_FILE,
            json.dumps({"id": f"inst-{secrets.token_hex(6)}", "created": utc_now()}).encode(),
        )
        record = json.loads(identity)
        installation = cls(folder, str(record["id"]), str(record["created"]))
        installation._ensure_credentials()
        return installation

    @classmethod
    def find(cls, folder: Path | None = None) -> Installation | None:
        """The installation in ``folder`` if one was made there; never makes one."""
        path = (folder or default_data_dir()) / IDENTITY_FILE
        if not path.is_file():
            return None
        record = json.loads(path.read_text())
        return cls(path.parent, str(record["id"]), str(record["created"]))

    def _ensure_credentials(self) -> None:
        """Make the key and chain once; a second process racing us keeps the first."""
        final = self.folder / CREDENTIALS_FOLDER
        if final.is_dir():
            return
        staging = Path(tempfile.mkdtemp(prefix=".credentials-", dir=self.folder))
        try:
            generate_dev_chain(staging, f"{ORGANISATION_PREFIX}{self.id}")
            try:
                staging.rename(final)
            except OSError:
                if not final.is_dir():
                    raise
        finally:
            shutil.rmtree(staging, ignore_errors=True)

    def records(self) -> RecordNumbers:
        return RecordNumbers(self.folder / RECORDS_FILE)


def _create_once(path: Path, content: bytes) -> bytes:
    """Write ``content`` to ``path`` unless it exists (atomically); return what is there."""
    if not path.exists():
        descriptor, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}-")
        try:
            os.write(descriptor, content)
            os.fsync(descriptor)
            os.close(descriptor)
            os.chmod(temporary, 0o600)
            with contextlib.suppress(FileExistsError):  # another process made it first
                os.link(temporary, path)
        finally:
            os.unlink(temporary)
    return path.read_bytes()


#: The watermark carries a record number modulo 2**WATERMARK_RECORD_BITS.
WATERMARK_RECORD_BITS = 20


def watermark_record(record: int) -> int:
    """What the watermark of the output with this record number carries."""
    return record % (1 << WATERMARK_RECORD_BITS)


class RecordNumbers:
    """Unique, increasing record numbers across threads and processes on one folder."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._lock = threading.Lock()
        self._next = self._end = 0

    def next(self) -> int:
        with self._lock:
            if self._next >= self._end:
                self._next, self._end = self._reserve()
            number = self._next
            self._next += 1
            return number

    def _reserve(self) -> tuple[int, int]:
        """Take the next block of numbers from the shared file, under an exclusive lock."""
        descriptor = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(descriptor, fcntl.LOCK_EX)
            text = os.read(descriptor, 64).decode().strip()
            start = int(text) if text else 1
            end = start + RECORD_BLOCK
            os.lseek(descriptor, 0, os.SEEK_SET)
            os.ftruncate(descriptor, 0)
            os.write(descriptor, f"{end}\n".encode())
            os.fsync(descriptor)
            return start, end
        finally:
            os.close(descriptor)  # releases the lock
