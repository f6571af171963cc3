#!/usr/bin/env bash
# Rebuild the bundled default ISEGAN generator from scratch on the bundled train split
# and install it (fp16 storage) as model/pretrained/generator.safetensors.
#   scripts/build_default_model.sh [DATA_DIR] [RUN_DIR] [EPOCHS]
# Uses the bundled default parser. The settings are the ones recorded in MODEL_CARD.md.
set -euo pipefail
cd "$(dirname "$0")/.."
data=${1:-../shared/data/cufs}
run=${2:-runs/default-model}
epochs=${3:-95}
.venv/bin/isegan train --preset full --data "$data" --out "$run" --epochs "$epochs" \
    --ngf 32 --ndf 32 --set model.generator.max_channel_multiplier=4 --batch-size 4 \
    --precision bf16 --channels-last --seed 0 --set optim.decay_second_half=true \
    --set checkpoint_every=500 --set sample_every=500 --no-progress
.venv/bin/python scripts/install_default_model.py "$run/generator.safetensors"
