"""``isegan serve``: the REST service under uvicorn, one model on one device."""

from __future__ import annotations

import argparse
import os
from pathlib import Path
from typing import Any

from isegan.model.inference_options import BACKENDS, PRECISIONS
from isegan.service.settings import SETTINGS_FILE_VARIABLE, ServiceSettings

#: Flag -> settings field, for the flags that override settings.
_FLAG_FIELDS = (
    "host", "port", "checkpoint", "parser", "device", "audit_log", "precision", "backend"
)  # fmt: skip


def add_parser(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "serve",
        help="run the REST service (POST /synthesize)",
        description="Serves the bundled model (or --checkpoint) over HTTP. Every setting can "
        f"also come from ISEGAN_* environment variables or a TOML file named by "
        f"--settings / {SETTINGS_FILE_VARIABLE}; flags win over both. See docs/service.md.",
    )
    parser.add_argument("--settings", type=Path, help="TOML settings file")
    parser.add_argument("--host", help="interface to bind (default 127.0.0.1)")
    parser.add_argument("--port", type=int, help="port (default 8000; 0 picks a free one)")
    parser.add_argument("--checkpoint", type=Path, help="generator checkpoint")
    parser.add_argument("--parser", type=Path, help="face-parser weights")
    parser.add_argument("--device", help="auto, cpu, cuda, cuda:N")
    parser.add_argument("--audit-log", type=Path, help="audit log file (JSONL)")
    parser.add_argument(
        "--precision",
        choices=PRECISIONS,
        help="auto (default: bf16 where native), fp32, bf16, fp16",
    )
    parser.add_argument(
        "--backend",
        choices=BACKENDS,
        help="auto (default: the faster of PyTorch and OpenVINO on this CPU), torch, openvino",
    )
    parser.set_defaults(run=run)


def settings_from_args(args: argparse.Namespace) -> ServiceSettings:
    if args.settings is not None:
        if not args.settings.is_file():
            raise ValueError(f"--settings {args.settings}: no such file")
        os.environ[SETTINGS_FILE_VARIABLE] = str(args.settings)
    overrides: dict[str, Any] = {
        name: getattr(args, name) for name in _FLAG_FIELDS if getattr(args, name) is not None
    }
    return ServiceSettings(**overrides)


def run(args: argparse.Namespace) -> int:
    from isegan.service.app import serve

    serve(settings_from_args(args))
    return 0
