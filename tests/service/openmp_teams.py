"""Serve in a fresh process, send requests, and count the threads torch's OpenMP added.

    python -m tests.service.openmp_teams BACKEND GENERATOR PARSER DATA_DIR SKETCH...

Prints one JSON object. libgomp's pool threads are native threads that Python's
``threading`` does not list, so the count of the process's threads (``/proc/self/task``)
minus the Python threads is the number of native threads; its growth from before the
service started to after it served is what the service's OpenMP teams added (each team
brings ``torch.get_num_threads() - 1`` pool threads, kept while its thread lives). Run
apart from pytest so that no other test's threads come or go meanwhile.

With BACKEND openvino the networks run on OpenVINO's own thread pool instead; then what
matters is that serving adds none after the first requests: ``"later"`` counts the
threads a second round of requests added.
"""

from __future__ import annotations

import io
import json
import os
import sys
import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import torch

from isegan.service.settings import ServiceSettings
from tests.service.server import running_server


def native_threads() -> int:
    return len(os.listdir("/proc/self/task")) - threading.active_count()


def main() -> None:
    backend, generator, parser, data_dir, *sketches = sys.argv[1:]
    before = native_threads()
    settings = ServiceSettings(
        checkpoint=Path(generator),
        parser=Path(parser),
        device="cpu",
        data_dir=Path(data_dir),
        audit_log=Path(data_dir) / "audit.jsonl",
        max_batch_size=2,
        backend=backend,
    )
    photos: list[bytes] = []
    with running_server(settings) as url:

        def synthesize(sketch: str) -> None:
            with open(sketch, "rb") as file:
                answer = httpx.post(
                    url + "/synthesize",
                    files={"sketch": ("s.png", file.read())},
                    headers={"Accept": "image/png"},
                    timeout=120,
                )
            answer.raise_for_status()
            photos.append(answer.content)

        with ThreadPoolExecutor(max_workers=4) as clients:  # several requests at once
            list(clients.map(synthesize, sketches * 2))
        first_round = native_threads()
        with ThreadPoolExecutor(max_workers=4) as clients:
            list(clients.map(synthesize, sketches * 2))
        for photo in photos[:2]:
            httpx.post(
                url + "/verify", files={"image": ("p.png", io.BytesIO(photo))}, timeout=120
            ).raise_for_status()
        after = native_threads()
    team = torch.get_num_threads() - 1
    print(json.dumps({"added": after - before, "later": after - first_round, "team": team}))


if __name__ == "__main__":
    main()
