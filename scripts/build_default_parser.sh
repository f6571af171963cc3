#!/usr/bin/env bash
# Rebuild the bundled default face parser from scratch and install it as the packaged
# default (model/pretrained/parser.safetensors), with its report and review sheets.
#   scripts/build_default_parser.sh [DATA_DIR] [RUN_DIR]
# Needs the `labels` extra and MediaPipe (see docs/model.md). About 10 minutes on 2 CPU cores.
# Trains with train-parser's default augmentation (photometric 0.5, style 0.3); the
# bundled parser before v3 was trained without (--augment-photometric 0 --augment-style 0).
# TARGET=model/pretrained/next installs it beside, not over, the bundled parser (the v3
# generator trains with it; scripts/build_model_v3.sh moves it in with the generator).
set -euo pipefail
cd "$(dirname "$0")/.."
data=${1:-../shared/data/cufs}
run=${2:-runs/default-parser}
.venv/bin/isegan train-parser --data "$data" --out "$run" --epochs 35 --base-channels 32 \
    --input-size 256 --batch-size 8 --seed 0
target=${TARGET:-model/pretrained}
mkdir -p "$target" docs
cp "$run/parser.safetensors" "$target/parser.safetensors"
cp "$run/report.md" "$target/parser-report.md"
cp "$run/test-sketches.png" docs/parser-test-sketches.png
cp "$run/pseudo-labels.png" docs/pseudo-labels.png
echo "installed $run/parser.safetensors in $target (reinstall the package to pick it up)"
