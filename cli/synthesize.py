"""``isegan synthesize``: sketches in, photos and intermediate parsing maps out."""

from __future__ import annotations

import argparse
import mimetypes
import os
import sys
import uuid
from pathlib import Path
from typing import TYPE_CHECKING, get_args

from PIL import Image
from tqdm import tqdm

from isegan.cli.images import InputError, expand_inputs, output_stems, read_image
from isegan.cli.weights import add_parser_options, parser_weights, require_weights
from isegan.model.alignment.align import LANDMARK_BACKENDS, AlignMode
from isegan.model.canonicalise import CANONICALISE_BY_DEFAULT, CanonicaliseConfig
from isegan.model.colour.colouring import (
    HINT_FIELDS,
    MAX_VARIATIONS,
    ColourRequest,
    ColourRequestError,
    colour_result,
)
from isegan.model.colour.hints import PALETTES
from isegan.model.inference_options import BACKENDS, PRECISIONS, InferenceOptions
from isegan.model.long_lived import freeze_long_lived_objects
from isegan.model.pipeline import FacePipeline, PipelineResult
from isegan.model.version import code_version
from isegan.model.weights.pretrained import default_generator_path
from isegan.provenance.audit import AuditLog
from isegan.provenance.credentials import CredentialsError
from isegan.provenance.custody import FIELD_NAMES, Custody, CustodyError, parse_custody
from isegan.provenance.installation import Installation, default_data_dir
from isegan.provenance.outputs import DEFAULT_OUTPUTS, EXTRA_OUTPUTS
from isegan.provenance.render import PhotoMarker, coloured_images, unmarked
from isegan.provenance.signing import SigningSetup, choose_signing, require_key_pair
from isegan.provenance.stamp import Stamper, Upload
from isegan.provenance.watermark import WATERMARK_PRECISIONS, Watermarker

if TYPE_CHECKING:
    import torch


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
        "--backend",
        choices=BACKENDS,
        default="auto",
        help="auto (default): on a CPU with openvino installed, the faster of PyTorch and "
        "OpenVINO on this host (timed once, then kept); torch; openvino",
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
    _add_colour_options(parser)
    _add_custody_options(parser)
    _add_provenance_options(parser)
    parser.add_argument(
        "--canonicalise",
        choices=("on", "off"),
        help="bring each sketch to the training sketches' paper and stroke levels first "
        f"(flattens tinted paper and uneven light, restores a faint pencil); default "
        f"{'on' if CANONICALISE_BY_DEFAULT else 'off'}; with --url the service decides",
    )
    parser.add_argument(
        "--landmarks",
        choices=LANDMARK_BACKENDS,
        help="what finds the eyes alignment fits: dlib (default, installed with isegan) or "
        "mediapipe (FaceMesh's iris centres, more precise; needs MediaPipe installed by "
        "hand); with --url the service decides (ISEGAN_LANDMARKS)",
    )
    _add_remote_options(parser)
    parser.set_defaults(run=run)


def _add_colour_options(parser: argparse.ArgumentParser) -> None:
    colour = parser.add_argument_group(
        "colour",
        "what a witness said: a palette name or #rrggbb per region, applied to the photo "
        "with the intermediate parsing (docs/colour.md); recorded with every output",
    )
    for region, name in HINT_FIELDS.items():
        colour.add_argument(
            f"--{name.replace('_', '-')}",
            dest=name,
            metavar="COLOUR",
            help=f"{', '.join(PALETTES[region])}, or #rrggbb",
        )
    colour.add_argument(
        "--variations",
        type=int,
        default=0,
        metavar="N",
        help=f"also write <name>.variation-1.png ... -N.png, N colourings that span each "
        f"palette where no hint fixes the colour (at most {MAX_VARIATIONS}): the sketch does "
        "not determine colour",
    )


def _add_custody_options(parser: argparse.ArgumentParser) -> None:
    custody = parser.add_argument_group(
        "chain of custody", "recorded in every output's manifest and in the audit log"
    )
    for name in FIELD_NAMES:
        custody.add_argument(f"--{name.replace('_', '-')}", dest=name, metavar="TEXT")


def _add_provenance_options(parser: argparse.ArgumentParser) -> None:
    marks = parser.add_argument_group(
        "provenance",
        "every output is signed (C2PA) and every photo watermarked, with this installation's "
        "key and record numbers unless told otherwise",
    )
    marks.add_argument(
        "--data-dir",
        type=Path,
        default=None,
        help="the installation folder (default: $ISEGAN_DATA_DIR, else ~/.local/share/isegan)",
    )
    marks.add_argument(
        "--c2pa",
        choices=("on", "off"),
        default=os.environ.get("ISEGAN_C2PA") or "on",
        help="sign outputs (default on; $ISEGAN_C2PA)",
    )
    marks.add_argument(
        "--watermark",
        choices=("on", "off"),
        default=os.environ.get("ISEGAN_WATERMARK") or "on",
        help="hide the installation and record number in each photo (default on)",
    )
    marks.add_argument(
        "--watermark-precision",
        choices=WATERMARK_PRECISIONS,
        default=os.environ.get("ISEGAN_WATERMARK_PRECISION") or "fp32",
        help="the watermark encoder's precision (default fp32; auto: bf16 where the CPU "
        "has it natively)",
    )
    marks.add_argument(
        "--c2pa-key",
        type=Path,
        default=os.environ.get("ISEGAN_C2PA_KEY") or None,
        help="your organisation's PEM signing key instead of the installation's "
        "(default: $ISEGAN_C2PA_KEY)",
    )
    marks.add_argument(
        "--c2pa-cert-chain",
        type=Path,
        default=os.environ.get("ISEGAN_C2PA_CERT_CHAIN") or None,
        help="its PEM certificate chain (default: $ISEGAN_C2PA_CERT_CHAIN)",
    )
    marks.add_argument(
        "--audit-log",
        type=Path,
        default=None,
        help="where each output's record is appended (default: DATA_DIR/audit.jsonl)",
    )


def _add_remote_options(parser: argparse.ArgumentParser) -> None:
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


class Marking:
    """This run's installation, signer, watermark and audit log."""

    def __init__(self, args: argparse.Namespace, device: torch.device) -> None:
        try:
            require_key_pair(args.c2pa_key, args.c2pa_cert_chain)
        except CredentialsError:
            raise InputError("--c2pa-key and --c2pa-cert-chain go together") from None
        try:
            self.custody: Custody = parse_custody({n: getattr(args, n) for n in FIELD_NAMES})
        except CustodyError as error:
            raise InputError(f"--{error.field.replace('_', '-')}: {error}") from None
        folder = args.data_dir or default_data_dir()
        self.installation = Installation.open(folder)
        self.signing: SigningSetup = choose_signing(
            args.c2pa, self.installation, args.c2pa_key, args.c2pa_cert_chain
        )
        self.marker = (
            PhotoMarker(
                Watermarker.load(precision=args.watermark_precision, device=device),
                self.installation.id,
                self.installation.records(),
            )
            if args.watermark == "on"
            else None
        )
        self.audit = AuditLog(args.audit_log or folder / "audit.jsonl")

    def stamper(self, pipeline: FacePipeline) -> Stamper:
        return Stamper(pipeline.model_id, pipeline.parser_id, code_version(), self.signing.signer)


def run(args: argparse.Namespace) -> int:
    if args.batch_size < 1:
        raise ValueError(f"--batch-size must be at least 1, got {args.batch_size}")
    try:  # a bad value is one line and exit 2, before any model is loaded
        colour = ColourRequest.parse(
            {name: getattr(args, name) for name in HINT_FIELDS.values()},
            args.variations,
            max_variations=MAX_VARIATIONS,
        )
    except ColourRequestError as error:
        raise InputError(f"--{error.field.replace('_', '-')}: {error.reason}") from None
    args.sketches = expand_inputs(args.sketches)
    if args.url:
        from isegan.cli.remote import synthesize_remote

        if args.canonicalise is not None:
            raise ValueError("--canonicalise is the service's setting (ISEGAN_CANONICALISE)")
        if args.landmarks is not None:
            raise ValueError("--landmarks is the service's setting (ISEGAN_LANDMARKS)")
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
        options=InferenceOptions(precision=args.precision, backend=args.backend),
    )
    if args.canonicalise is None:
        args.canonicalise = "on" if CANONICALISE_BY_DEFAULT else "off"
    if args.canonicalise == "on":
        pipeline.canonicalise = CanonicaliseConfig()
    if args.landmarks is not None:
        pipeline.landmarks = args.landmarks
        pipeline.aligner()  # a missing MediaPipe is one clear error before any work
    out: Path = args.out
    marking = Marking(args, pipeline.device)
    stamper = marking.stamper(pipeline)
    freeze_long_lived_objects()
    with tqdm(total=len(sketches), unit="sketch", disable=len(sketches) < 2) as progress:
        for start in range(0, len(sketches), args.batch_size):
            batch = sketches[start : start + args.batch_size]
            results = pipeline(batch, align=args.align)
            for path, stem, sketch, result in zip(
                args.sketches[start:], stems[start:], batch, results, strict=False
            ):
                _write_outputs(
                    out, path, stem, sketch, result, pipeline, stamper, marking, args, colour
                )
            progress.update(len(batch))
    print(
        f"wrote {len(sketches)} photo(s) to {out} (model {pipeline.model_id[:12]}; "
        f"installation {marking.installation.id}: {marking.signing.describe()}; "
        f"audit log {marking.audit.path})"
    )
    return 0


def _media_type(path: Path) -> str:
    return mimetypes.guess_type(path.name)[0] or "application/octet-stream"


def _write_outputs(
    out: Path,
    path: Path,
    stem: str,
    sketch: Image.Image,
    result: PipelineResult,
    pipeline: FacePipeline,
    stamper: Stamper,
    marking: Marking,
    args: argparse.Namespace,
    colour: ColourRequest,
) -> None:
    """Every output of one sketch, coloured, marked and stamped as the service does
    (hinted, watermarked, labelled, signed, recorded), and its record appended to the
    audit log. A hint that could not be applied is said on stderr and in the record."""
    names = DEFAULT_OUTPUTS + (EXTRA_OUTPUTS if args.extras else ())
    colouring = colour_result(result, colour)
    images = coloured_images(colouring, names, sketch)
    for region, reason in colouring.outcome.not_applied.items():
        print(f"{path}: {region} hint not applied: {reason}", file=sys.stderr)
    marked = marking.marker.mark(images) if marking.marker is not None else unmarked(images)
    stamped = stamper.stamp(
        marked,
        Upload(path.read_bytes(), _media_type(path)),
        request_id=f"cli-{uuid.uuid4().hex}",
        options={
            "align": args.align,
            "canonicalise": args.canonicalise == "on",
            "source": str(path.name),
            **colour.options(),
        },
        custody=marking.custody,
        inference=pipeline.inference_record(),
        colour=colouring.record(),
    )
    out.mkdir(parents=True, exist_ok=True)
    for name, rendered in stamped.files.items():
        (out / name.file_name(stem)).write_bytes(rendered.data)
    marking.audit.append({"event": "synthesize", **stamped.record.model_dump(mode="json")})
