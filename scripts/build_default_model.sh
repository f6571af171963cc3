#!/usr/bin/env bash
# Rebuild the bundled default ISEGAN generator from scratch on the bundled train split
# and install it (fp16 storage) as model/pretrained/generator.safetensors.
#   scripts/build_default_model.sh [DATA_DIR] [RUN_DIR] [EPOCHS]
# Uses the bundled default parser. The settings are the ones recorded in MODEL_CARD.md.
set -euo pipefail
cd "$(dirname "$0")/.."
data=${1:-../shared/data/cufs}
run=${2:-runs/default-model}
EPOCHS=${3:-95}
source scripts/recipe.sh
.venv/bin/isegan train --preset full --data "$data" --out "$run" "${RECIPE[@]}" \
    --set sample_every=500
.venv/bin/python scripts/install_default_model.py "$run/generator.safetensors"
