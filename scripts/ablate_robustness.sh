#!/usr/bin/env bash
# Equal-budget robustness ablations (issue "Every sketch a person brings"): the bundled
# generator fine-tuned for STEPS iterations at its own recipe (scripts/recipe.sh,
# BUNDLED_RECIPE), once without augmentation and once per augmentation family, then one
# `isegan eval --robustness` of the bundled model and every finished arm on the test split,
# with and without inference-time canonicalisation.
#   scripts/ablate_robustness.sh [DATA_DIR] [RUNS_DIR]      (STEPS=300 by default)
# ONLY="none both" trains just the named arms; TRAIN_ONLY=1 skips the evaluation.
# Re-running skips finished arms and resumes an interrupted one from its last state
# (saved every 50 steps). Arms share one parsing cache, seed and data order.
set -euo pipefail
cd "$(dirname "$0")/.."
data=${1:-../shared/data/cufs}
runs=${2:-runs/robustness}
steps=${STEPS:-300}
isegan=${ISEGAN:-.venv/bin/isegan}
start=${INIT_FROM:-model/pretrained/generator.safetensors}
source scripts/recipe.sh
mkdir -p "$runs"

# name | augmentation flags
arms=(
    "none|"
    "both|--set augment.photometric=0.5 --set augment.style=0.3"
    "photometric|--set augment.photometric=0.5"
    "style|--set augment.style=0.3"
)
only=" ${ONLY:-} "
for entry in "${arms[@]}"; do
    IFS='|' read -r name extra <<<"$entry"
    if [ "$only" != "  " ] && [[ "$only" != *" $name "* ]]; then
        continue
    fi
    out="$runs/$name"
    last=$(tail -n 1 "$out/losses.jsonl" 2>/dev/null | sed -n 's/^{"step": \([0-9]*\),.*/\1/p' || true)
    if [ "${last:-0}" -ge "$steps" ] && [ -f "$out/generator.safetensors" ]; then
        continue
    fi
    start_from=(--init-from "$start")
    if [ -f "$out/training-state.pt" ]; then
        start_from=(--resume "$out/training-state.pt")
    fi
    # shellcheck disable=SC2086  # $extra is a list of flags
    "$isegan" train --preset recommended --data "$data" --out "$out" "${BUNDLED_RECIPE[@]}" \
        --max-steps "$steps" --set checkpoint_every=50 --set keep_every=0 \
        --set sample_every=100000 --set data.parsing_cache="$runs/parsing-cache" \
        $extra "${start_from[@]}"
done
if [ -n "${TRAIN_ONLY:-}" ]; then
    exit 0
fi
checkpoints=(--checkpoint "$start")
for entry in "${arms[@]}"; do
    name=${entry%%|*}
    if [ -f "$runs/$name/generator.safetensors" ]; then
        checkpoints+=(--checkpoint "$runs/$name/generator.safetensors")
    fi
done
for canonicalise in off on; do
    "$isegan" eval --data "$data" --split test --out "$runs/eval-canonicalise-$canonicalise" \
        --no-calibration --robustness all --canonicalise "$canonicalise" "${checkpoints[@]}"
done
