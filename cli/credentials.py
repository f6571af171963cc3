"""``isegan keygen`` and ``isegan verify``: C2PA signing keys and the check of an image."""

from __future__ import annotations

import argparse
import mimetypes
from pathlib import Path

from isegan.cli.images import InputError


def add_parsers(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    keygen = subparsers.add_parser(
        "keygen",
        help="make a self-signed C2PA signing chain for development",
        description="Writes isegan-root.pem (the root a verifier must trust), "
        "isegan-signer-chain.pem and isegan-signer.key (what the signer uses) to OUT. For "
        "deployments use a certificate from your organisation's CA instead.",
    )
    keygen.add_argument("-o", "--out", type=Path, required=True, help="output folder")
    keygen.add_argument("--organisation", default="isegan development")
    keygen.set_defaults(run=run_keygen)

    verify = subparsers.add_parser(
        "verify",
        help="check the Content Credentials (C2PA) of images",
        description="Exit status: 0 trusted, 3 valid but the signer is not trusted, 4 edited "
        "or broken, 5 no credentials (the worst over all images).",
    )
    verify.add_argument("images", nargs="+", type=Path)
    verify.add_argument("--trust", type=Path, help="PEM file of trusted root certificates")
    verify.add_argument("--json", action="store_true", help="print one JSON object")
    verify.set_defaults(run=run_verify)


def run_keygen(args: argparse.Namespace) -> int:
    from isegan.provenance.credentials import generate_dev_chain

    paths = generate_dev_chain(args.out, args.organisation)
    for role, path in paths.items():
        print(f"{role:6s} {path}")
    return 0


def run_verify(args: argparse.Namespace) -> int:
    from isegan.provenance.credentials import Check, check, describe, to_json

    anchors = None
    if args.trust is not None:
        if not args.trust.is_file():
            raise InputError(f"{args.trust}: no such file")
        anchors = args.trust.read_text()
    results: dict[str, Check] = {}
    for path in args.images:
        if not path.is_file():
            raise InputError(f"{path}: no such file")
        media_type = mimetypes.guess_type(path.name)[0] or "image/png"
        results[str(path)] = check(path.read_bytes(), media_type, anchors)
    if args.json:
        print(to_json(results))
    else:
        for name, result in results.items():
            print(f"{name}\n  " + describe(result).replace("\n", "\n  "))
    return max(result.verdict.exit_code for result in results.values())
