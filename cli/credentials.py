"""``isegan keygen`` and ``isegan verify``: C2PA signing keys and the check of an image."""

from __future__ import annotations

import argparse
import json
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
    verify.add_argument(
        "--trust",
        type=Path,
        help="PEM file of trusted root certificates (an installation's root also lets its "
        "watermark be read)",
    )
    verify.add_argument(
        "--installation",
        action="append",
        default=[],
        metavar="ID",
        help="also read watermarks of this installation (repeatable; this machine's own "
        "installation is always tried)",
    )
    verify.add_argument("--data-dir", type=Path, help="this machine's installation folder")
    verify.add_argument(
        "--no-watermark", action="store_true", help="check the credentials only (faster)"
    )
    verify.add_argument("--json", action="store_true", help="print one JSON object")
    verify.set_defaults(run=run_verify)


def run_keygen(args: argparse.Namespace) -> int:
    from isegan.provenance.credentials import generate_dev_chain

    paths = generate_dev_chain(args.out, args.organisation)
    for role, path in paths.items():
        print(f"{role:6s} {path}")
    return 0


def run_verify(args: argparse.Namespace) -> int:
    from PIL import Image

    from isegan.provenance.credentials import Check, check, describe
    from isegan.provenance.installation import Installation
    from isegan.provenance.signing import installations_in_roots
    from isegan.provenance.watermark import Watermarker, WatermarkReading

    anchors = None
    if args.trust is not None:
        if not args.trust.is_file():
            raise InputError(f"{args.trust}: no such file")
        anchors = args.trust.read_text()
    own = Installation.find(args.data_dir)
    known = list(
        dict.fromkeys(
            ([own.id] if own else []) + list(args.installation) + installations_in_roots(anchors)
        )
    )
    watermarker = Watermarker.load() if known and not args.no_watermark else None
    results: dict[str, tuple[Check, WatermarkReading | None]] = {}
    for path in args.images:
        if not path.is_file():
            raise InputError(f"{path}: no such file")
        media_type = mimetypes.guess_type(path.name)[0] or "image/png"
        credentials = check(path.read_bytes(), media_type, anchors)
        reading = None
        if watermarker is not None:
            try:
                with Image.open(path) as image:
                    reading = watermarker.read(image, known)
            except (OSError, ValueError):  # pixels that do not decode carry no reading
                reading = None
        results[str(path)] = (credentials, reading)
    if args.json:
        print(
            json.dumps(
                {
                    name: {**c.as_dict(), "watermark": r.as_dict() if r else None}
                    for name, (c, r) in results.items()
                },
                indent=2,
            )
        )
    else:
        for name, (credentials, reading) in results.items():
            text = describe(credentials)
            if reading is not None:
                text += f"\n{reading.describe()}"
                if credentials.verdict.value == "no-credentials":
                    text = f"no credentials; {reading.describe()}"
            elif watermarker is not None:
                text += "\nwatermark: none found from installations " + ", ".join(known)
            print(f"{name}\n  " + text.replace("\n", "\n  "))
    return max(c.verdict.exit_code for c, _ in results.values())
