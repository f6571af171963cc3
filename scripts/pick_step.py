"""Pick a run's shipped step on the validation slice, never on the test split.

    .venv/bin/python scripts/pick_step.py RUN_DIR --data ../shared/data/cufs \
        --ids training/splits/cufs-validation.txt

Scores every generator the run kept (RUN_DIR/generators/step-*.safetensors, and its last
RUN_DIR/generator.safetensors) with ``isegan eval --robustness all`` on the pairs of
``--ids`` (held out of training with data.holdout), then picks by the rule written down
before any test-split figure was seen (issue "The bundled model, v3"):

    validation score = mean over the renderings (clean and every kind) of the photo's FSIM
                       + 0.1 x mean over the renderings of the photo's rank-1

FSIM carries the bars on look; rank-1 (scaled to FSIM's spread between checkpoints) keeps
a step that draws a generic face from winning. Ties go to the earlier step. Writes
RUN_DIR/validation/choice.json with every step's score and the choice.
"""

from __future__ import annotations

import argparse
import json
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

RANK1_WEIGHT = 0.1


def validation_score(robustness: dict[str, Any]) -> float:
    """The rule above, from one checkpoint's robustness table in metrics.json."""
    entries = list(robustness.values())
    fsim = sum(e["photo"]["fsim"] for e in entries) / len(entries)
    ranks = [e["photo"]["rank1"] for e in entries]
    rank1 = sum(ranks) / len(ranks) if None not in ranks else 0.0
    return fsim + RANK1_WEIGHT * rank1


def ranked(results: dict[str, Any]) -> dict[str, float]:
    """Every checkpoint of a metrics.json with a robustness table, by validation score."""
    scores = {
        name: validation_score(entry["robustness"])
        for name, entry in results.items()
        if isinstance(entry, dict) and "robustness" in entry
    }
    return dict(sorted(scores.items(), key=lambda item: -item[1]))


def step_of(name: str) -> int:
    found = re.search(r"step-(\d+)", name)
    return int(found.group(1)) if found else sys.maxsize


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("run", type=Path, help="a run folder, or with --scored a metrics.json")
    parser.add_argument(
        "--scored",
        action="store_true",
        help="RUN is an existing `isegan eval --robustness all` metrics.json: rank its "
        "checkpoints by the rule without evaluating anything",
    )
    parser.add_argument("--data", type=Path, required=True)
    parser.add_argument("--ids", type=Path, required=True)
    parser.add_argument("--split", default="train")
    parser.add_argument("--isegan", default=str(Path(sys.executable).with_name("isegan")))
    parser.add_argument(
        "--parser", type=Path, help="the face parser the run trained with (default: bundled)"
    )
    parser.add_argument("--face-model", type=Path, help="dlib's face-recognition .dat")
    parser.add_argument("--device", help="isegan eval's --device (default: its own)")
    args = parser.parse_args(argv)
    if args.scored:
        scores = ranked(json.loads(args.run.read_text())["results"])
        for name, value in scores.items():
            print(f"{name}: {value:.4f}")
        return 0
    checkpoints = sorted((args.run / "generators").glob("step-*.safetensors"))
    if (args.run / "generator.safetensors").is_file():
        checkpoints.append(args.run / "generator.safetensors")
    if not checkpoints:
        raise SystemExit(f"{args.run} has no generators to choose from")
    out = args.run / "validation"
    command = [args.isegan, "eval", "--data", str(args.data), "--split", args.split,
               "--ids", str(args.ids), "--out", str(out), "--no-calibration",
               "--nlda-repeats", "2", "--robustness", "all"]  # fmt: skip
    if args.parser is not None:
        command += ["--parser", str(args.parser)]
    if args.face_model is not None:
        command += ["--face-model", str(args.face_model)]
    if args.device is not None:
        command += ["--device", args.device]
    for checkpoint in checkpoints:
        command += ["--checkpoint", str(checkpoint)]
    subprocess.run(command, check=True)
    scores = ranked(json.loads((out / "metrics.json").read_text())["results"])
    best = max(scores, key=lambda name: (scores[name], -step_of(name)))
    choice = {"rule": __doc__.split("\n\n")[3].strip(), "scores": scores, "choice": best}
    (out / "choice.json").write_text(json.dumps(choice, indent=2))
    for name, value in sorted(scores.items(), key=lambda item: step_of(item[0])):
        print(f"{name}: {value:.4f}{'  <- chosen' if name == best else ''}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
