#!/usr/bin/env bash
# Train the bundled model's yardstick: `base` (pix2pix: sketch -> photo, one generator, one
# PatchGAN) on the same data, width, batch, seed and iteration budget as the bundled model
# (BUNDLED_RECIPE in scripts/recipe.sh), so `isegan eval` compares the two at equal cost;
# RECIPE=v3 matches the third bundled model instead (V3_RECIPE: 1,200 steps from scratch,
# the same augmentation, the validation slice held out).
#   scripts/build_base_yardstick.sh [DATA_DIR] [RUN_DIR]
# Safe to re-run: it continues from RUN_DIR/training-state.pt, else from $CARRY (a portable
# state written by scripts/pack_training_state.py, default
# model/pretrained/next/base-run.pt) when that file exists, else from scratch. It never
# installs anything. Run it from a checkout that stays unchanged while it trains, with
# RUN_DIR outside it.
set -euo pipefail
cd "$(dirname "$0")/.."
PRESET=base INSTALL=0 CARRY=${CARRY:-model/pretrained/next/base-run.pt} \
    exec scripts/build_default_model.sh "${1:-../shared/data/cufs}" "${2:-runs/base-yardstick}"
