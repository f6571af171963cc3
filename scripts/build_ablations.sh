#!/usr/bin/env bash
# Train the Table 2 comparison models (`base` = pix2pix, `stage1` = DIP-GAN alone) with
# exactly the default model's data, parser, width and step budget (scripts/build_default_model.sh),
# then score them and the default model's fp32 source on the test split.
#   scripts/build_ablations.sh [DATA_DIR] [RUNS_DIR]
# Re-running continues an interrupted run from its last saved state (every 500 steps).
set -euo pipefail
cd "$(dirname "$0")/.."
data=${1:-../shared/data/cufs}
runs=${2:-runs}
run_prefix="$runs/ablation-"
source scripts/recipe.sh
steps=$(( EPOCHS * $(grep -c . "$data/train.txt") / 4 ))  # batch 4: 3990 for the bundled split
for preset in base stage1; do
    out="$run_prefix$preset"
    last=$(tail -n 1 "$out/losses.jsonl" 2>/dev/null | sed -n 's/^{"step": \([0-9]*\),.*/\1/p' || true)
    if [ "${last:-0}" -ge "$steps" ] && [ -f "$out/generator.safetensors" ]; then
        continue  # finished; re-exporting would give the file a new id
    fi
    resume=()
    if [ -f "$out/training-state.pt" ]; then
        resume=(--resume "$out/training-state.pt")
    fi
    .venv/bin/isegan train --preset "$preset" --data "$data" --out "$out" "${RECIPE[@]}" \
        --set sample_every=1000 "${resume[@]}"
done
.venv/bin/isegan eval --data "$data" --split test --out "$runs/eval-ablations" \
    --checkpoint "$runs/ablation-base/generator.safetensors" \
    --checkpoint "$runs/ablation-stage1/generator.safetensors" \
    --checkpoint "$runs/default-model/generator.safetensors"
