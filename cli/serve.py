"""``isegan serve``: the REST service under uvicorn, one model on one device."""

from __future__ import annotations

import argparse
import logging
import os
from pathlib import Path
from typing import Any

from isegan.model.inference import PRECISIONS
from isegan.service.settings import SETTINGS_FILE_VARIABLE, ServiceSettings

#: Flag -> settings field, for the flags that override settings.
_FLAG_FIELDS = ("host", "port", "checkpoint", "parser", "device", "audit_log", "precision")


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
    import uvicorn

    from isegan.service.app import create_app
    from isegan.service.request_context import RequestIdLogFilter
    from isegan.service.slow_clients import uvicorn_limits

    settings = settings_from_args(args)
    handler = logging.StreamHandler()
    handler.addFilter(RequestIdLogFilter())
    handler.setFormatter(
        logging.Formatter("%(asctime)s %(levelname)s %(name)s [%(request_id)s] %(message)s")
    )
    root = logging.getLogger()
    root.handlers[:] = [handler]
    config = uvicorn.Config(
        create_app(settings),
        host=settings.host,
        port=settings.port,
        log_config=None,  # our handler above, with request ids
        access_log=False,  # the service logs each request itself, with its id
        timeout_graceful_shutdown=int(settings.shutdown_timeout_s),
        workers=1,  # one process: one copy of the model per device
        **uvicorn_limits(settings),  # header/body/keep-alive time limits, connection cap
    )
    uvicorn.Server(config).run()
    return 0
