#!/usr/bin/env bash
# Rebuild the bundled default face parser from scratch and install it as the packaged
# default (model/pretrained/parser.safetensors), with its report and review sheets.
#   scripts/build_default_parser.sh [DATA_DIR] [RUN_DIR]
# Needs the `labels` extra and MediaPipe (see docs/model.md). About 20 minutes on 2 CPU cores.
set -euo pipefail
cd "$(dirname "$0")/.."
data=${1:-../shared/data/cufs}
run=${2:-runs/default-parser}
.venv/bin/isegan train-parser --data "$data" --out "$run" --epochs 35 --base-channels 32 \
    --input-size 256 --batch-size 8 --seed 0
mkdir -p model/pretrained docs
cp "$run/parser.safetensors" model/pretrained/parser.safetensors
cp "$run/report.md" model/pretrained/parser-report.md
cp "$run/test-sketches.png" docs/parser-test-sketches.png
cp "$run/pseudo-labels.png" docs/pseudo-labels.png
echo "installed $run/parser.safetensors as the default parser (reinstall the package to pick it up)"
