#!/usr/bin/env bash
# Build the bundled default generator: the `recommended` preset at BUNDLED_RECIPE
# (scripts/recipe.sh), trained on the bundled train split with the bundled parser, then
# installed in fp16 as model/pretrained/generator.safetensors.
#   scripts/build_default_model.sh [DATA_DIR] [RUN_DIR]
# Safe to re-run at any time; it continues where the run stopped, from the first of:
#   - RUN_DIR/training-state.pt (saved every 200 steps): an exact resume;
#   - $CARRY, the run's committed portable state (default
#     model/pretrained/next/recommended-run.pt; scripts/pack_training_state.py writes it):
#     every network and the step count, with fresh optimiser moments;
#   - INIT_FROM=a generator checkpoint this run exported: G1/G2 from its weights, fresh
#     discriminators; the step count and schedule carry on from its metadata;
#   - else from scratch.
# INSTALL=0 trains without installing. PRESET=base trains the yardstick instead
# (scripts/build_base_yardstick.sh). Run it from a checkout that stays unchanged while
# it trains (a git worktree), with RUN_DIR outside the work tree. To keep an unfinished
# run across machines, pack and commit its state:
#   python scripts/pack_training_state.py RUN_DIR/training-state.pt "$CARRY"
set -euo pipefail
cd "$(dirname "$0")/.."
data=${1:-../shared/data/cufs}
run=${2:-runs/default-model}
isegan=${ISEGAN:-.venv/bin/isegan}
python=${PYTHON:-.venv/bin/python}
source scripts/recipe.sh
mkdir -p "$run"
carry=${CARRY:-model/pretrained/next/recommended-run.pt}
start=()
if [ -f "$run/training-state.pt" ]; then
    start=(--resume "$run/training-state.pt")
elif [ -f "$carry" ]; then
    start=(--resume "$carry")
elif [ -n "${INIT_FROM:-}" ]; then
    start=(--resume "$INIT_FROM")
fi
# RECIPE=v3 trains at V3_RECIPE (the third bundled model's budget, validation slice held out)
recipe=("${BUNDLED_RECIPE[@]}")
[ "${RECIPE:-bundled}" = v3 ] && recipe=("${V3_RECIPE[@]}")
"$isegan" train --preset "${PRESET:-recommended}" --data "$data" --out "$run" \
    "${recipe[@]}" "${start[@]}"
if [ "${INSTALL:-1}" = 1 ]; then
    "$python" scripts/install_default_model.py "$run/generator.safetensors" --data "$data"
fi
