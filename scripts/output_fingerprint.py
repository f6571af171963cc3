"""Hashes of every output the real service returns for the first CUFS test sketches, in
every format, with signing and the watermark off and the code version held fixed: run it
before and after a refactor and diff the two listings (byte-for-byte the same outputs).

    python scripts/output_fingerprint.py DATA [--count 2] [--checkpoint G --parser P] > before.txt

--checkpoint/--parser hold the weights fixed across a change of the bundled model.
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import socket
import sys
import threading
from pathlib import Path

import httpx
import uvicorn

from isegan.service.app import create_app
from isegan.service.client import wait_until_ready
from isegan.service.settings import ServiceSettings

OUTPUTS = "photo,parsing,stage1_photo,sketch_parsing"


def serve(settings: ServiceSettings) -> tuple[str, uvicorn.Server]:
    app = create_app(settings)
    app.state.isegan.code_version = "fixed"  # the commit is part of the embedded facts
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    server = uvicorn.Server(uvicorn.Config(app, log_config=None, access_log=False))
    threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True).start()
    url = f"http://127.0.0.1:{sock.getsockname()[1]}"
    wait_until_ready(url, timeout=300)
    return url, server


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("data", type=Path, help="CUFS pair folder (sketches/, test.txt)")
    parser.add_argument("--count", type=int, default=2, help="test sketches (default 2)")
    parser.add_argument("--checkpoint", type=Path, help="generator (default: the bundled one)")
    parser.add_argument("--parser", type=Path, help="face parser (default: the bundled one)")
    args = parser.parse_args(argv)
    ids = (args.data / "test.txt").read_text().split()[: args.count]
    settings = ServiceSettings(
        c2pa="off", watermark="off", audit_log=None, checkpoint=args.checkpoint,
        parser=args.parser,
    )  # fmt: skip
    url, server = serve(settings)
    for sketch_id in ids:
        sketch = (args.data / "sketches" / f"{sketch_id}.png").read_bytes()
        files = {"sketch": ("sketch.png", sketch, "image/png")}
        for fmt in ("png", "jpeg", "webp"):
            data = {"outputs": OUTPUTS, "format": fmt}
            body = httpx.post(url + "/synthesize", files=files, data=data, timeout=120).json()
            for name, image in body["images"].items():
                digest = hashlib.sha256(base64.b64decode(image["data"])).hexdigest()
                print(sketch_id, fmt, name, digest[:16])
        alone = httpx.post(
            url + "/synthesize", files=files, headers={"Accept": "image/png"}, timeout=120
        )
        print(sketch_id, "accept-png", hashlib.sha256(alone.content).hexdigest()[:16])
    server.should_exit = True
    return 0


if __name__ == "__main__":
    sys.exit(main())
