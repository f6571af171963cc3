"""What one ``POST /synthesize`` goes through: isegan source files and thread crossings.

    python benchmarks/request_path.py --data ../shared/data/cufs [--checkpoint G --parser P]

Serves the real app in this process (uvicorn on a loopback port, watermark and C2PA
signing on, an audit log), sends one warm-up request, then profiles every thread while a
second request is served. Reports the isegan source files whose functions ran for that
request, and the thread crossings: how often the sequence of isegan calls moved from one
thread to another (event loop, thread pool, inference worker). Run it on two commits to
compare a refactor of the request path; the counts do not depend on the machine's speed.
"""

from __future__ import annotations

import argparse
import socket
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import httpx
import uvicorn

from isegan.service.app import create_app
from isegan.service.settings import ServiceSettings


class CallLog:
    """(thread, file) of every isegan function call while recording."""

    def __init__(self) -> None:
        self.calls: list[tuple[int, str]] = []
        self.recording = False
        self._lock = threading.Lock()

    def profile(self, frame: Any, event: str, arg: Any) -> None:
        if event != "call" or not self.recording:
            return
        filename = frame.f_code.co_filename
        if "/isegan/" not in filename:
            return
        with self._lock:
            self.calls.append((threading.get_ident(), filename.split("/isegan/", 1)[1]))

    def crossings(self) -> int:
        return sum(1 for a, b in zip(self.calls, self.calls[1:], strict=False) if a[0] != b[0])


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
        for _ in range(600):
            try:
                if httpx.get(url + "/health/ready", timeout=5).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            time.sleep(0.5)
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
    touched = sorted({name for _, name in log.calls})
    threads = len({thread for thread, _ in log.calls})
    print(f"one POST /synthesize: {len(touched)} isegan files, {threads} threads, "
          f"{log.crossings()} thread crossings")  # fmt: skip
    for name in touched:
        print(f"  {name}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
