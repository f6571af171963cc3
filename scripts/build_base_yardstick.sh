#!/usr/bin/env bash
# Train the bundled model's yardstick: `base` (pix2pix: sketch -> photo, one generator, one
# PatchGAN) on the same data, width, batch, seed and iteration budget as the bundled model
# (BUNDLED_RECIPE in scripts/recipe.sh), so `isegan eval` compares the two at equal cost.
#   scripts/build_base_yardstick.sh [DATA_DIR] [RUN_DIR]
# Safe to re-run: it continues from RUN_DIR/training-state.pt, else from $CARRY (a portable
# state written by scripts/pack_training_state.py, default
# model/pretrained/next/base-run.pt) when that file exists, else from scratch.
# Run it from a checkout that stays unchanged while it trains, with RUN_DIR outside it.
set -euo pipefail
cd "$(dirname "$0")/.."
data=${1:-../shared/data/cufs}
run=${2:-runs/base-yardstick}
isegan=${ISEGAN:-.venv/bin/isegan}
source scripts/recipe.sh
mkdir -p "$run"
carry=${CARRY:-model/pretrained/next/base-run.pt}
start=()
if [ -f "$run/training-state.pt" ]; then
    start=(--resume "$run/training-state.pt")
elif [ -f "$carry" ]; then
    start=(--resume "$carry")
fi
"$isegan" train --preset base --data "$data" --out "$run" \
    "${BUNDLED_RECIPE[@]}" "${start[@]}"
