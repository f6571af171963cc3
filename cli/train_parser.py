"""``isegan train-parser``: pseudo-labels, training, evaluation and review sheets."""

from __future__ import annotations

import argparse
import json
import logging
from pathlib import Path

import torch

from isegan.model.canonicalise import CanonicaliseConfig
from isegan.model.device import resolve_device
from isegan.model.parsing import save_parser
from isegan.model.pipeline import parse_sketches
from isegan.training.contact_sheet import contact_sheet, overlay
from isegan.training.face_parser.label_cache import PseudoLabelCache
from isegan.training.face_parser.robustness import parser_robustness, robustness_markdown
from isegan.training.face_parser.train import (
    KINDS,
    ParserTrainConfig,
    build_parser_metadata,
    evaluate_parser,
    load_labelled,
    train_parser,
)
from isegan.training.pairs import PairFolder

logger = logging.getLogger(__name__)


def add_parser(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "train-parser",
        help="train the default 8-class face parser from scratch on sketch/photo pairs",
        description="Derives landmark/colour pseudo-labels for every pair (cached), trains a "
        "BiSeNet on photos and sketches together, reports per-class IoU on the evaluation "
        "split and writes parser.safetensors, report.md, metrics.json and contact sheets.",
    )
    defaults = ParserTrainConfig()
    parser.add_argument(
        "--data", type=Path, required=True, help="pair folder (photos/, sketches/, <split>.txt)"
    )
    parser.add_argument("--out", type=Path, required=True, help="output folder")
    parser.add_argument("--split", default="train", help="training split (default train)")
    parser.add_argument("--eval-split", default="test", help="evaluation split (default test)")
    parser.add_argument("--labels-cache", type=Path, help="pseudo-label cache (default OUT/labels)")
    parser.add_argument("--epochs", type=int, default=defaults.epochs)
    parser.add_argument("--batch-size", type=int, default=defaults.batch_size)
    parser.add_argument("--base-channels", type=int, default=defaults.base_channels)
    parser.add_argument("--input-size", type=int, default=defaults.input_size)
    parser.add_argument("--learning-rate", type=float, default=defaults.learning_rate)
    parser.add_argument("--seed", type=int, default=defaults.seed)
    parser.add_argument(
        "--augment-photometric",
        type=float,
        default=defaults.augment_photometric,
        help="share of images given 1-3 capture changes (faint, paper, light, blur, noise, "
        "JPEG...), as `isegan train`'s augment.photometric",
    )
    parser.add_argument(
        "--augment-style",
        type=float,
        default=defaults.augment_style,
        help="share of images replaced by a line rendering (ink, line art, edges, sparse)",
    )
    parser.add_argument("--threads", type=int, help="torch CPU threads (default: torch's)")
    parser.add_argument("--device", default="auto")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    config = ParserTrainConfig(
        base_channels=args.base_channels, input_size=args.input_size, epochs=args.epochs,
        batch_size=args.batch_size, learning_rate=args.learning_rate, seed=args.seed,
        threads=args.threads, augment_photometric=args.augment_photometric,
        augment_style=args.augment_style,
    )  # fmt: skip
    if config.threads:
        torch.set_num_threads(config.threads)
    device = resolve_device(args.device)
    out: Path = args.out
    out.mkdir(parents=True, exist_ok=True)
    train_folder = PairFolder.open(args.data, args.split)
    eval_folder = PairFolder.open(args.data, args.eval_split)
    cache = PseudoLabelCache(args.labels_cache or out / "labels")
    for folder in (train_folder, eval_folder):
        failed = cache.build(folder)
        if failed:
            logger.warning("no face found in %d pairs of %s: %s", len(failed), folder.split, failed)
    train = load_labelled(train_folder, cache)
    evaluation = load_labelled(eval_folder, cache)
    write_label_sheet(train[: 2 * 8], out / "pseudo-labels.png")

    network, parser, seconds = train_parser(config, train, device=device)
    metrics = evaluate_parser(parser, evaluation, device)
    metadata = build_parser_metadata(config, train_folder, metrics, seconds, eval_folder.split)
    parser_id = save_parser(out / "parser.safetensors", network, metadata)
    robustness = parser_robustness(
        parser,
        [s for s in evaluation if s.kind == "sketches"],
        [s for s in evaluation if s.kind == "photos"],
        device=device,
        canonicalise_with=CanonicaliseConfig(),
    )
    (out / "metrics.json").write_text(
        json.dumps({"parser_id": parser_id, **metrics, "robustness": robustness}, indent=2)
    )
    report = iou_report(metrics, eval_folder.split) + robustness_report(robustness)
    (out / "report.md").write_text(report)
    sketches = [s for s in evaluation if s.kind == "sketches"][:8]
    predicted = parse_sketches(parser, [s.image for s in sketches], device=device)
    contact_sheet(
        [
            [s.image for s in sketches],
            [overlay(s.image, labels) for s, labels in zip(sketches, predicted, strict=True)],
            [overlay(s.image, s.labels) for s in sketches],
        ],
        captions=["test sketches", "default parser", "pseudo-labels"],
    ).save(out / "test-sketches.png")
    print(report)
    print(f"wrote {out / 'parser.safetensors'} (id {parser_id[:12]}) in {seconds / 60:.1f} min")
    return 0


def write_label_sheet(samples: list, path: Path) -> None:  # type: ignore[type-arg]
    tiles = [overlay(s.image, s.labels) for s in samples]
    contact_sheet([tiles[:8], tiles[8:16]] if len(tiles) > 8 else [tiles]).save(path)


def robustness_report(robustness: dict[str, dict[str, float]]) -> str:
    return (
        "\nSketches in each kind of the robustness suite, canonicalised as served: mean IoU "
        "against the pseudo-labels (agreement with the clean sketch's P_s):\n\n"
        + robustness_markdown({"this parser": robustness})
    )


def iou_report(metrics: dict[str, dict[str, float | None]], split: str) -> str:
    names = [n for n in next(iter(metrics.values()))]
    lines = [
        f"Per-class IoU against the pseudo-labels, {split} split:",
        "",
        "| domain | " + " | ".join(names) + " |",
        "|---|" + "---|" * len(names),
    ]
    for kind in KINDS:
        cells = ["n/a" if metrics[kind][n] is None else f"{metrics[kind][n]:.3f}" for n in names]
        lines.append(f"| {kind} | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"
