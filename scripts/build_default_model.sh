#!/usr/bin/env bash
# Build the bundled default generator: the `recommended` preset at BUNDLED_RECIPE
# (scripts/recipe.sh), trained on the bundled train split with the bundled parser, then
# installed in fp16 as model/pretrained/generator.safetensors.
#   scripts/build_default_model.sh [DATA_DIR] [RUN_DIR]
# Safe to re-run at any time; it continues where the run stopped:
#   - RUN_DIR/training-state.pt exists (saved every 200 steps): an exact --resume;
#   - else, with INIT_FROM=a generator checkpoint of this recipe (for example the one
#     committed from an unfinished run): G1/G2 start from its weights and train the
#     steps it still lacks (its metadata says how many it had), with fresh discriminators
#     and optimisers;
#   - else from scratch.
# INSTALL=0 trains without installing. Run it from a checkout that stays unchanged while
# it trains (a git worktree), with RUN_DIR outside the work tree.
set -euo pipefail
cd "$(dirname "$0")/.."
data=${1:-../shared/data/cufs}
run=${2:-runs/default-model}
isegan=${ISEGAN:-.venv/bin/isegan}
python=${PYTHON:-.venv/bin/python}
source scripts/recipe.sh
mkdir -p "$run"
steps=$BUNDLED_STEPS
start=()
if [ -f "$run/training-state.pt" ]; then
    start=(--resume "$run/training-state.pt")
elif [ -n "${INIT_FROM:-}" ]; then
    done_steps=$("$python" -c 'import sys; from isegan.model.generators import load_generators
print(int(load_generators(sys.argv[1]).metadata.training.get("steps", 0)))' "$INIT_FROM")
    steps=$(( BUNDLED_STEPS - done_steps ))
    echo "continuing from $INIT_FROM ($done_steps steps done, $steps to go)"
    start=(--init-from "$INIT_FROM")
fi
if [ "$steps" -gt 0 ]; then
    "$isegan" train --preset recommended --data "$data" --out "$run" \
        "${BUNDLED_RECIPE[@]}" --max-steps "$steps" "${start[@]}"
fi
if [ "${INSTALL:-1}" = 1 ]; then
    "$python" scripts/install_default_model.py "$run/generator.safetensors" --data "$data"
fi
