"""``isegan synthesize``: sketches in, photos and intermediate parsing maps out."""

from __future__ import annotations

import argparse
import mimetypes
import os
from pathlib import Path
from typing import get_args

from PIL import Image
from tqdm import tqdm

from isegan.cli.images import InputError, expand_inputs, output_stems, read_image
from isegan.cli.weights import add_parser_options, parser_weights, require_weights
from isegan.model.alignment import AlignMode
from isegan.model.inference import PRECISIONS, InferenceOptions
from isegan.model.labels import parsing_to_image
from isegan.model.pipeline import FacePipeline, PipelineResult
from isegan.model.pretrained import default_generator_path
from isegan.model.version import code_version
from isegan.provenance.credentials import CredentialSigner
from isegan.provenance.labels import EmbeddedFacts, encode_image, sha256_hex


def add_parser(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "synthesize",
        help="turn face sketches into photos",
        description="Writes <name>.png (the photo) and <name>.parsing.png (the intermediate "
        "parsing P_int as a palette PNG) for every input sketch.",
    )
    parser.add_argument(
        "sketches", nargs="+", type=Path, help="sketch image files, or folders of them"
    )
    parser.add_argument("-o", "--out", type=Path, required=True, help="output folder")
    parser.add_argument(
        "--checkpoint", type=Path, help="generator checkpoint (default: the bundled model)"
    )
    add_parser_options(parser)
    parser.add_argument("--batch-size", type=int, default=4, help="sketches per forward pass")
    parser.add_argument(
        "--precision",
        choices=PRECISIONS,
        default="auto",
        help="auto (default): bf16 where the device computes it natively, else fp32 (fp16 "
        "on older GPUs); fp32 is the reference the optimised paths are tested against",
    )
    parser.add_argument(
        "--extras",
        action="store_true",
        help="also write <name>.stage1.png (Y1) and <name>.sketch-parsing.png (P_s)",
    )
    parser.add_argument(
        "--align",
        choices=get_args(AlignMode),
        nargs="?",
        const="true",
        default="auto",
        help="auto (default): warp each sketch that is not already CUFS-aligned so its face "
        "sits where CUFS has it, and also write <name>.on-input.png, the photo warped back "
        "onto the input; true: align every sketch; false: use the sketches as they are",
    )
    signing = parser.add_argument_group(
        "content credentials", "sign every output with a C2PA manifest (see `isegan keygen`)"
    )
    signing.add_argument(
        "--c2pa-key",
        type=Path,
        default=os.environ.get("ISEGAN_C2PA_KEY") or None,
        help="PEM signing key (default: $ISEGAN_C2PA_KEY)",
    )
    signing.add_argument(
        "--c2pa-cert-chain",
        type=Path,
        default=os.environ.get("ISEGAN_C2PA_CERT_CHAIN") or None,
        help="its PEM certificate chain (default: $ISEGAN_C2PA_CERT_CHAIN)",
    )
    remote = parser.add_argument_group(
        "remote", "send the sketches to a running service instead of loading the model here"
    )
    remote.add_argument("--url", help="service base URL, e.g. http://localhost:8000")
    remote.add_argument(
        "--api-key",
        default=os.environ.get("ISEGAN_API_KEY"),
        help="API key for the service (default: $ISEGAN_API_KEY)",
    )
    remote.add_argument(
        "--concurrency", type=int, default=4, help="requests in flight at once (default 4)"
    )
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    if args.batch_size < 1:
        raise ValueError(f"--batch-size must be at least 1, got {args.batch_size}")
    args.sketches = expand_inputs(args.sketches)
    if args.url:
        from isegan.cli.remote import synthesize_remote

        return synthesize_remote(args)
    checkpoint = require_weights(
        args.checkpoint, "--checkpoint", "generator checkpoint", default_generator_path()
    )
    parser_file = parser_weights(args)
    stems = output_stems(args.sketches)
    sketches = [read_image(path) for path in args.sketches]
    pipeline = FacePipeline.from_files(
        checkpoint,
        parser_file,
        device=args.device,
        parser_backend=args.parser_backend,
        options=InferenceOptions(precision=args.precision),
    )
    out: Path = args.out
    signer = _signer(args)
    with tqdm(total=len(sketches), unit="sketch", disable=len(sketches) < 2) as progress:
        for start in range(0, len(sketches), args.batch_size):
            batch = sketches[start : start + args.batch_size]
            results = pipeline(batch, align=args.align)
            for path, stem, sketch, result in zip(
                args.sketches[start:], stems[start:], batch, results, strict=False
            ):
                _write_outputs(out, path, stem, sketch, result, pipeline, signer, args)
            progress.update(len(batch))
    print(f"wrote {len(sketches)} photo(s) to {out} (model {pipeline.model_id[:12]})")
    return 0


def _signer(args: argparse.Namespace) -> CredentialSigner | None:
    if args.c2pa_key is None and args.c2pa_cert_chain is None:
        return None
    if args.c2pa_key is None or args.c2pa_cert_chain is None:
        raise InputError("--c2pa-key and --c2pa-cert-chain go together")
    return CredentialSigner(args.c2pa_key, args.c2pa_cert_chain)


def _media_type(path: Path) -> str:
    return mimetypes.guess_type(path.name)[0] or "application/octet-stream"


def _write_outputs(
    out: Path,
    path: Path,
    stem: str,
    sketch: Image.Image,
    result: PipelineResult,
    pipeline: FacePipeline,
    signer: CredentialSigner | None,
    args: argparse.Namespace,
) -> None:
    """Every output of one sketch, XMP-labelled as synthetic and signed when a key is set."""
    images = {
        f"{stem}.png": ("photo", result.photo),
        f"{stem}.parsing.png": ("parsing", parsing_to_image(result.intermediate_parsing)),
    }
    if result.warped:
        images[f"{stem}.on-input.png"] = ("photo_on_input", result.photo_on_input(sketch))
    if args.extras:
        images[f"{stem}.stage1.png"] = ("stage1_photo", result.stage1_photo)
        images[f"{stem}.sketch-parsing.png"] = (
            "sketch_parsing",
            parsing_to_image(result.sketch_parsing),
        )
    sketch_bytes = path.read_bytes()
    facts = EmbeddedFacts(
        output="photo",
        input_sha256=sha256_hex(sketch_bytes),
        model_id=pipeline.model_id,
        parser_id=pipeline.parser_id,
        code_version=code_version(),
    )
    out.mkdir(parents=True, exist_ok=True)
    for name, (output, image) in images.items():
        labelled = facts.model_copy(update={"output": output})
        data, media_type = encode_image(image, labelled)
        if signer is not None:
            data = signer.sign(
                data,
                media_type,
                sketch=sketch_bytes,
                sketch_media_type=_media_type(path),
                facts=labelled.model_dump(exclude_none=True),
                title=name,
            )
        (out / name).write_bytes(data)
