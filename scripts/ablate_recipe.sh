#!/usr/bin/env bash
# Equal-budget ablations of the training recipe: the `full` preset at the bundled model's
# recipe (scripts/recipe.sh) for STEPS iterations, once as it is and once per change,
# one factor at a time, plus `base` (pix2pix) at the same budget and the `recommended`
# preset (the chosen combination), and `recommended` with cross-fitted P_s when
# CROSS_FIT (default RUNS_DIR/cross-fit-parsers/held-out-parsers.json) exists; then one `isegan eval`
# of every finished run on the test split.
#   scripts/ablate_recipe.sh [DATA_DIR] [RUNS_DIR]      (STEPS=600 by default)
# ONLY="recommended cross-fit" trains and evaluates just the named variants.
# Re-running skips finished runs and resumes an interrupted one from its last state
# (saved every 100 steps). Runs share one parsing cache, so all see the same P_s.
set -euo pipefail
cd "$(dirname "$0")/.."
data=${1:-../shared/data/cufs}
runs=${2:-runs/ablations}
steps=${STEPS:-600}
isegan=${ISEGAN:-.venv/bin/isegan}
source scripts/recipe.sh
mkdir -p "$runs"

# name | preset | extra flags (one factor each against "full")
variants=(
    "full|full|"
    "pm-rms|full|--set loss.pm_norm=rms"
    "id10|full|--set loss.id_weight=10"
    "g2-sketch|full|--set model.stage2_sees_sketch=true"
    "resize-conv|full|--set model.generator.upsample=resize_conv"
    "ema|full|--set ema_decay=0.995"
    "fm10|full|--set loss.fm_weight=10"
    "spectral|full|--set discriminators.face.spectral_norm=true --set discriminators.parsing.spectral_norm=true --set discriminators.final.spectral_norm=true"
    "ps-crop|full|--set data.parsing_frame=crop"
    "base|base|"
    "recommended|recommended|"
)
# Cross-fitted P_s (scripts/build_cross_fit_parsers.sh) against `recommended`, once the
# fold parsers exist.
cross_fit=${CROSS_FIT:-$runs/cross-fit-parsers/held-out-parsers.json}
if [ -f "$cross_fit" ]; then
    variants+=("cross-fit|recommended|--set data.held_out_sketch_parsers=$(cat "$cross_fit")")
fi
only=" ${ONLY:-} "
selected=()
for entry in "${variants[@]}"; do
    if [ "$only" = "  " ] || [[ "$only" == *" ${entry%%|*} "* ]]; then
        selected+=("$entry")
    fi
done
variants=("${selected[@]}")
for entry in "${variants[@]}"; do
    IFS='|' read -r name preset extra <<<"$entry"
    out="$runs/$name"
    last=$(tail -n 1 "$out/losses.jsonl" 2>/dev/null | sed -n 's/^{"step": \([0-9]*\),.*/\1/p' || true)
    if [ "${last:-0}" -ge "$steps" ] && [ -f "$out/generator.safetensors" ]; then
        continue
    fi
    resume=()
    if [ -f "$out/training-state.pt" ]; then
        resume=(--resume "$out/training-state.pt")
    fi
    # shellcheck disable=SC2086  # $extra is a list of flags
    "$isegan" train --preset "$preset" --data "$data" --out "$out" "${RECIPE[@]}" \
        --max-steps "$steps" --set checkpoint_every=100 --set sample_every=100000 \
        --set data.parsing_cache="$runs/parsing-cache" $extra "${resume[@]}"
done
checkpoints=()
for entry in "${variants[@]}"; do
    IFS='|' read -r name _ _ <<<"$entry"
    if [ -f "$runs/$name/generator.safetensors" ]; then
        checkpoints+=(--checkpoint "$runs/$name/generator.safetensors")
    fi
done
"$isegan" eval --data "$data" --split test --out "$runs/eval" --no-calibration "${checkpoints[@]}"
