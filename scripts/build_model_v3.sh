#!/usr/bin/env bash
# Build the third bundled generator: the `recommended` preset at V3_RECIPE with
# V3_IDENTITY (scripts/recipe.sh), the validation slice held out, the shipped step picked on it by
# scripts/pick_step.py, then installed in fp16 as model/pretrained/generator.safetensors.
#   scripts/build_model_v3.sh [DATA_DIR] [RUN_DIR]
# START=scratch (default) trains G1/G2 from random weights; START=finetune starts them from
# the second bundled model (FROM, default model/pretrained/generator.safetensors while that
# is still the second model, id eff3943831c2...). scripts/compare_v3_start.sh compared the
# two at equal budget: fine-tuning scored higher on the validation slice (0.856 against
# 0.828 by pick_step's rule), but the second model trained on those 24 pairs for 12,012
# steps, so its arm was scored on pairs it had memorised (rank-1 0.79 against 0.46), and
# a step picked on them would be too. Training anew keeps the validation slice unseen.
# Safe to re-run at any time; it continues from RUN_DIR/training-state.pt (saved every 100
# steps), else from $CARRY (default model/pretrained/next/v3-run.pt), the committed
# portable state of an unfinished run:
#   .venv/bin/python scripts/pack_training_state.py RUN_DIR/training-state.pt "$CARRY"
# INSTALL=0 trains and picks without installing. Run it from a checkout that stays
# unchanged while it trains (a git worktree), with RUN_DIR outside the work tree.
set -euo pipefail
cd "$(dirname "$0")/.."
data=${1:-../shared/data/cufs}
run=${2:-runs/model-v3}
isegan=${ISEGAN:-.venv/bin/isegan}
python=${PYTHON:-.venv/bin/python}
source scripts/recipe.sh
mkdir -p "$run"
carry=${CARRY:-model/pretrained/next/v3-run.pt}
start=()
if [ -f "$run/training-state.pt" ]; then
    start=(--resume "$run/training-state.pt")
elif [ -f "$carry" ]; then
    start=(--resume "$carry")
elif [ "${START:-scratch}" = finetune ]; then
    start=(--init-from "${FROM:-model/pretrained/generator.safetensors}")
fi
"$isegan" train --preset recommended --data "$data" --out "$run" "${V3_RECIPE[@]}" \
    "${V3_IDENTITY[@]}" "${start[@]}"
"$python" scripts/pick_step.py "$run" --data "$data" --ids "$V3_VALIDATION" \
    --isegan "$isegan" --parser "$V3_PARSER"
chosen=$("$python" -c "import json,sys; print(json.load(open(sys.argv[1]))['choice'])" \
    "$run/validation/choice.json")
checkpoint="$run/generators/$chosen.safetensors"
[ -f "$checkpoint" ] || checkpoint="$run/generator.safetensors"
echo "chosen on the validation slice: $checkpoint"
if [ "${INSTALL:-1}" = 1 ]; then
    # the parser it trained with first: install_default_model.py checks the fp16 copy with
    # the bundled parser
    if [ "$V3_PARSER" != model/pretrained/parser.safetensors ]; then
        cp "$V3_PARSER" model/pretrained/parser.safetensors
        cp "$(dirname "$V3_PARSER")/parser-report.md" model/pretrained/parser-report.md
    fi
    "$python" scripts/install_default_model.py "$checkpoint" --data "$data"
fi
