"""What one ``POST /synthesize`` goes through: isegan source files and thread crossings.

    python benchmarks/request_path.py --data ../shared/data/cufs [--checkpoint G --parser P]

Serves the real app in this process (uvicorn on a loopback port, watermark and C2PA
signing on, an audit log), sends one warm-up request, then profiles every thread while a
second request is served. Reports the isegan source files whose functions ran for that
request, and its hops off the event loop: each call of ``run_in_threadpool`` from isegan
code (decode, render, audit...) and each visit to the inference worker (a batch, or a
task handed to it, such as a watermark); every hop is two thread crossings, there and
back. Run it on two commits to compare a refactor of the request path; the counts do not
depend on the machine's speed.
"""

from __future__ import annotations

import argparse
import socket
import sys
import tempfile
import threading
from pathlib import Path
from typing import Any

import httpx
import uvicorn

from isegan.service.app import create_app
from isegan.service.client import wait_until_ready
from isegan.service.settings import ServiceSettings


def _isegan(frame: Any) -> bool:
    return frame is not None and "/isegan/" in frame.f_code.co_filename


class CallLog:
    """Every isegan function call while recording: (thread, file, function, whether it
    was entered from outside isegan, the caller's function name)."""

    def __init__(self) -> None:
        self.calls: list[tuple[int, str, str, bool, str]] = []
        self.recording = False
        self.pool_callers: list[str] = []
        self._pool_frames: list[Any] = []
        self._lock = threading.Lock()

    def profile(self, frame: Any, event: str, arg: Any) -> None:
        if event != "call" or not self.recording:
            return
        if frame.f_code.co_name == "run_in_threadpool" and _isegan(frame.f_back):
            with self._lock:  # a coroutine's frame "calls" again at every resumption
                if not any(seen is frame for seen in self._pool_frames):
                    self._pool_frames.append(frame)  # kept alive, so never a reused id
                    self.pool_callers.append(frame.f_back.f_code.co_name)
            return
        if not _isegan(frame):
            return
        name = frame.f_code.co_filename.split("/isegan/", 1)[1]
        caller = frame.f_back
        entry = not _isegan(caller)
        with self._lock:
            self.calls.append(
                (threading.get_ident(), name, frame.f_code.co_name, entry,
                 caller.f_code.co_name if caller is not None else "")
            )  # fmt: skip

    def hops(self) -> tuple[int, int]:
        """(thread-pool hops, visits to the inference worker) of the request."""
        worker = {t for t, _, function, _, _ in self.calls if function == "_run_batch"}
        worker_visits = sum(
            1 for t, _, function, _, caller in self.calls
            if t in worker and (function == "_run_batch" or caller == "_run_tasks")
        )  # fmt: skip
        return len(self.pool_callers), worker_visits


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, required=True)
    parser.add_argument("--checkpoint", type=Path)
    parser.add_argument("--parser", type=Path)
    args = parser.parse_args()
    log = CallLog()
    with tempfile.TemporaryDirectory() as scratch:
        settings = ServiceSettings(
            checkpoint=args.checkpoint, parser=args.parser, data_dir=Path(scratch),
            audit_log=Path(scratch) / "audit.jsonl",
        )  # fmt: skip
        app = create_app(settings)
        sock = socket.socket()
        sock.bind(("127.0.0.1", 0))
        server = uvicorn.Server(uvicorn.Config(app, log_config=None, access_log=False))
        threading.setprofile(log.profile)
        sys.setprofile(log.profile)
        threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True).start()
        url = f"http://127.0.0.1:{sock.getsockname()[1]}"
        wait_until_ready(url, timeout=300)
        sketch_id = (args.data / "test.txt").read_text().split()[0]
        sketch = (args.data / "sketches" / f"{sketch_id}.png").read_bytes()
        files = {"sketch": ("sketch.png", sketch, "image/png")}
        httpx.post(url + "/synthesize", files=files, timeout=120).raise_for_status()
        log.recording = True
        httpx.post(url + "/synthesize", files=files, timeout=120).raise_for_status()
        log.recording = False
        sys.setprofile(None)
        threading.setprofile(None)  # type: ignore[arg-type]
        server.should_exit = True
    touched = sorted({call[1] for call in log.calls})
    threads = len({call[0] for call in log.calls})
    pool, worker = log.hops()
    print(
        f"one POST /synthesize: {len(touched)} isegan files on {threads} threads; "
        f"{pool} thread-pool hops and {worker} worker visits: "
        f"{2 * (pool + worker)} thread crossings"
    )
    print("thread-pool hops from:", ", ".join(log.pool_callers))
    for name in touched:
        print(f"  {name}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
