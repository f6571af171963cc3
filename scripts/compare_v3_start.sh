#!/usr/bin/env bash
# The equal-budget choice between fine-tuning the second bundled model and training anew
# for v3 (issue "The bundled model, v3"): V3_RECIPE for STEPS iterations (default 300, a
# quarter of V3_STEPS, the schedule decaying over them) once from the second model and
# once from random weights, then both scored on the validation slice by
# scripts/pick_step.py's rule (never on the test split). Read the fine-tuning arm's score
# with care: the second model trained on the validation pairs, so that arm has seen them
# (scripts/build_model_v3.sh says what was chosen and why).
#   scripts/compare_v3_start.sh [DATA_DIR] [RUNS_DIR]
# Re-running skips finished arms and resumes an interrupted one.
set -euo pipefail
cd "$(dirname "$0")/.."
data=${1:-../shared/data/cufs}
runs=${2:-runs/v3-start}
steps=${STEPS:-300}
isegan=${ISEGAN:-.venv/bin/isegan}
python=${PYTHON:-.venv/bin/python}
from=${FROM:-model/pretrained/generator.safetensors}
source scripts/recipe.sh
mkdir -p "$runs"
for arm in finetune scratch; do
    out="$runs/$arm"
    if [ -f "$out/generator.safetensors" ] && [ ! -f "$out/training-state.pt.tmp" ] \
        && grep -q "\"step\": $steps," "$out/losses.jsonl" 2>/dev/null; then
        continue
    fi
    start=()
    if [ -f "$out/training-state.pt" ]; then
        start=(--resume "$out/training-state.pt")
    elif [ "$arm" = finetune ]; then
        start=(--init-from "$from")
    fi
    "$isegan" train --preset recommended --data "$data" --out "$out" "${V3_RECIPE[@]}" \
        --max-steps "$steps" --set keep_every=0 \
        --set data.parsing_cache="$runs/parsing-cache" "${start[@]}"
done
"$isegan" eval --data "$data" --split train --ids "$V3_VALIDATION" --out "$runs/validation" \
    --no-calibration --nlda-repeats 2 --robustness all --parser "$V3_PARSER" \
    --checkpoint "$runs/finetune/generator.safetensors" \
    --checkpoint "$runs/scratch/generator.safetensors"
"$python" scripts/pick_step.py "$runs/validation/metrics.json" --scored --data "$data" \
    --ids "$V3_VALIDATION"
