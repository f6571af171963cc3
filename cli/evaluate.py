"""``isegan eval``: the paper's Table 1 metrics for checkpoints or for two image folders."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from isegan.cli.weights import add_parser_options, parser_weights
from isegan.model.canonicalise import CanonicaliseConfig
from isegan.model.device import resolve_device
from isegan.model.identity.face_recognition import (
    INSTALL_HINT,
    load_face_recognizer,
    locate_packaged_model,
)
from isegan.model.pipeline import FacePipeline, parse_sketches
from isegan.training.evaluation.evaluate import (
    CheckpointOutputs,
    MetricWeights,
    evaluation_grid,
    load_folder_pairs,
    parsing_agreement,
    protocol,
    score,
    synthesise_split,
    write_json,
)
from isegan.training.evaluation.identity import CALIBRATION_RUNGS, IdentityGallery
from isegan.training.evaluation.report import report_markdown
from isegan.training.pairs import PairFolder, ids_sha256, read_id_list
from isegan.training.robustness.renderings import KIND_NAMES
from isegan.training.robustness.suite import (
    KindRun,
    parse_kinds,
    robustness_suite,
    suite_markdown,
)


def add_parser(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "eval",
        help="score checkpoints (or any two image folders) with the paper's metrics",
        description="With --checkpoint: synthesise the split, crop back to 250x200 and score "
        "Y2 (and Y1 of two-stage models); with --real/--fake: score same-named images of two "
        "folders. Writes OUT/metrics.json, OUT/report.md and, for checkpoints, image grids.",
    )
    parser.add_argument(
        "--checkpoint",
        type=Path,
        action="append",
        default=[],
        help="generator checkpoint (repeat for a Table 2 style comparison)",
    )
    parser.add_argument("--data", type=Path, help="pair folder (photos/, sketches/, <split>.txt)")
    parser.add_argument("--split", default="test")
    parser.add_argument(
        "--ids",
        type=Path,
        help="score only the pairs listed in this file (one ID per line), a subset of "
        "--split: a validation slice held out of training with data.holdout",
    )
    parser.add_argument("--real", type=Path, help="folder of real photos")
    parser.add_argument("--fake", type=Path, help="folder of synthesised photos, same names")
    parser.add_argument("--out", type=Path, required=True)
    for network in ("alex", "squeeze", "vgg"):
        parser.add_argument(
            f"--lpips-{network}",
            type=Path,
            help=f"torchvision {network} ImageNet state dict (LPIPS-{network})",
        )
    parser.add_argument(
        "--inception", type=Path, help="FID weights pt_inception-2015-12-05-6726825d.pth"
    )
    parser.add_argument("--nlda-repeats", type=int, default=20)
    parser.add_argument(
        "--face-model",
        type=Path,
        help="dlib_face_recognition_resnet_model_v1.dat for the identity metrics "
        "(default: the one of the installed face-recognition-models package)",
    )
    parser.add_argument(
        "--no-identity", action="store_true", help="skip the face-recognition identity metrics"
    )
    parser.add_argument(
        "--no-calibration",
        action="store_true",
        help="skip the calibration ladder (real photos blurred, tone-shifted, down-scaled)",
    )
    parser.add_argument(
        "--robustness",
        metavar="KINDS",
        help="also score the split rendered as people bring sketches: 'all' or a comma "
        f"list of {', '.join(KIND_NAMES)} (writes OUT/<checkpoint>/robustness.png)",
    )
    parser.add_argument(
        "--canonicalise",
        choices=("on", "off"),
        default="off",
        help="bring every input sketch to CUFS's paper and stroke levels first",
    )
    add_parser_options(parser)
    parser.add_argument("--batch-size", type=int, default=8)
    parser.set_defaults(run=run)


def _weights(args: argparse.Namespace) -> MetricWeights:
    lpips = {
        network: getattr(args, f"lpips_{network}")
        for network in ("alex", "squeeze", "vgg")
        if getattr(args, f"lpips_{network}") is not None
    }
    return MetricWeights(lpips=lpips, inception=args.inception)


def _gallery(args: argparse.Namespace, photos: Path) -> IdentityGallery | None:
    """The identity gallery, or None (with a one-line note) when no recognizer is at hand."""
    if args.no_identity:
        return None
    if args.face_model is None and locate_packaged_model() is None:
        print(f"identity metrics not computed: {INSTALL_HINT}", file=sys.stderr)
        return None
    recognizer = load_face_recognizer(args.face_model, device=resolve_device(args.device))
    return IdentityGallery.from_folder(recognizer, photos)


def run(args: argparse.Namespace) -> int:
    out: Path = args.out
    out.mkdir(parents=True, exist_ok=True)
    weights = _weights(args)
    if args.real or args.fake:
        if not (args.real and args.fake) or args.checkpoint:
            raise ValueError("use --real DIR --fake DIR together, without --checkpoint")
        report = _score_folders(args, out, weights)
    else:
        if not args.checkpoint or args.data is None:
            raise ValueError("give --checkpoint CKPT --data DIR, or --real DIR --fake DIR")
        report = _score_checkpoints(args, out, weights)
    (out / "report.md").write_text(report)
    print(report)
    return 0


def _score_folders(args: argparse.Namespace, out: Path, weights: MetricWeights) -> str:
    """Same-named images of two folders; writes metrics.json, returns the report."""
    names, real, fake = load_folder_pairs(args.real, args.fake)
    gallery = _gallery(args, args.real)
    metrics = score(real, fake, weights, nlda_repeats=args.nlda_repeats, ids=names, gallery=gallery)
    write_json(
        out / "metrics.json",
        {
            "protocol": protocol(weights, len(names), gallery),
            "real": str(args.real),
            "fake": str(args.fake),
            "ids_sha256": ids_sha256(names),
            "results": {"fake": metrics},
        },
    )
    return report_markdown({args.fake.name: metrics}, f"Scores of {args.fake} against {args.real}:")


def _score_checkpoints(args: argparse.Namespace, out: Path, weights: MetricWeights) -> str:
    """Each checkpoint's outputs on the split, then the yardsticks (the sketch itself,
    the calibration ladder); writes metrics.json, returns the report."""
    folder = PairFolder.open(args.data, args.split)
    if args.ids is not None:
        folder = folder.only(read_id_list(args.ids), args.ids.stem)
    gallery = _gallery(args, folder.root / "photos")
    # every image list of this split is scored the same way
    score_split = partial(
        score, weights=weights, nlda_repeats=args.nlda_repeats, ids=list(folder.ids),
        gallery=gallery,
    )  # fmt: skip
    rows: dict[str, dict[str, Any]] = {}
    results: dict[str, Any] = {}
    suites: dict[str, dict[str, dict[str, Any]]] = {}
    kinds = parse_kinds(args.robustness) if args.robustness else ()
    outputs = None
    photo_parsings = None
    for checkpoint in args.checkpoint:
        pipeline = FacePipeline.from_files(
            checkpoint, parser_weights(args), device=args.device, parser_backend=args.parser_backend
        )
        if args.canonicalise == "on":
            pipeline.canonicalise = CanonicaliseConfig()
        if photo_parsings is None:  # the parser's maps of the real photos: P_int's target
            photos = [Image.fromarray(folder.load_pair(i)[0]) for i in folder.ids]
            photo_parsings = parse_sketches(pipeline.parser, photos, device=pipeline.device)
        name = checkpoint.parent.name if checkpoint.stem == "generator" else checkpoint.stem
        outputs = synthesise_split(pipeline, folder, out / name, batch_size=args.batch_size)
        evaluation_grid(outputs).save(out / name / "grid.png")
        results[name] = _checkpoint_entry(pipeline, outputs, photo_parsings, score_split)
        results[name]["canonicalise"] = args.canonicalise == "on"
        if kinds:
            suite = robustness_suite(
                pipeline, ids=outputs.ids, sketches=outputs.sketches, real=outputs.real,
                kinds=kinds, gallery=gallery, batch_size=args.batch_size,
                clean=KindRun("clean", outputs.sketches, outputs.final, outputs.sketch_parsing),
            )  # fmt: skip
            suite.sheet.save(out / name / "robustness.png")
            results[name]["robustness"] = suite.table
            suites[name] = suite.table
        if pipeline.two_stage:
            rows[f"{name} (stage-I output)"] = results[name]["stage1"]
            rows[f"{name} (stage-II output)"] = results[name]["final"]
        else:
            rows[name] = results[name]["final"]
    assert outputs is not None and photo_parsings is not None
    baseline = score_split(outputs.real, outputs.sketches)
    sketch_agreement = parsing_agreement(outputs.sketch_parsing, photo_parsings)
    baseline["p_int_miou"] = sketch_agreement["mean_iou"]  # P_s itself as P_int
    rows["sketch used as the photo"] = baseline
    results["sketch_as_photo"] = {"final": baseline, "sketch_parsing": sketch_agreement}
    if not args.no_calibration:
        ladder = {}
        for rung, change in CALIBRATION_RUNGS:
            ladder[rung] = score_split(outputs.real, [change(image) for image in outputs.real])
            rows[f"calibration: {rung}"] = ladder[rung]
        results["calibration"] = ladder
    write_json(
        out / "metrics.json",
        {
            "protocol": protocol(weights, len(folder.ids), gallery),
            "data": folder.record().model_dump(),
            "results": results,
        },
    )
    report = report_markdown(
        rows, f"Scores on the {folder.split} split of {folder.root.name} ({len(folder.ids)} pairs):"
    )
    return report + ("\n" + suite_markdown(suites) if suites else "")


def _checkpoint_entry(
    pipeline: FacePipeline,
    outputs: CheckpointOutputs,
    photo_parsings: list[np.ndarray],
    score_split: Callable[..., dict[str, Any]],
) -> dict[str, Any]:
    """One checkpoint's scores: Y2 (or the single stage's photo), P_int's agreement with
    the parser's map of the real photo and, for two-stage models, Y1."""
    final = score_split(outputs.real, outputs.final)
    entry: dict[str, Any] = {
        "model_id": pipeline.model_id,
        "parser_id": pipeline.parser_id,
        "final": final,
        "intermediate_parsing": parsing_agreement(outputs.intermediate_parsing, photo_parsings),
    }
    final["p_int_miou"] = entry["intermediate_parsing"]["mean_iou"]
    if pipeline.two_stage:
        entry["stage1"] = score_split(outputs.real, outputs.stage1)
    return entry
