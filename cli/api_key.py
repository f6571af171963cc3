"""``isegan api-key``: make an API key and the digest the service stores."""

from __future__ import annotations

import argparse
import hashlib
import secrets


def add_parser(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "api-key",
        help="generate an API key and its SHA-256 digest for ISEGAN_API_KEY_SHA256",
        description="Prints a new random key (give it to the client) and its SHA-256 digest "
        "(put it in the service settings; the service never stores the key itself).",
    )
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    key = secrets.token_urlsafe(32)
    print(f"key:    {key}")
    print(f"sha256: {hashlib.sha256(key.encode()).hexdigest()}")
    return 0
