#!/usr/bin/env bash
# Cross-fitted face parsers for training: split the training pairs into K folds and train
# one parser per fold on the other K-1 folds (the bundled parser's recipe, its epochs
# scaled so each sees as many images), so every training sketch has a parser that never
# saw it. Writes OUT_DIR/held-out-parsers.json, the value of the `isegan train` setting
# that takes each training sketch's P_s from its fold's parser:
#   isegan train ... --set "data.held_out_sketch_parsers=$(cat OUT_DIR/held-out-parsers.json)"
#   scripts/build_cross_fit_parsers.sh [DATA_DIR] [OUT_DIR] [K]
# Needs the `labels` extra and MediaPipe, like scripts/build_default_parser.sh. Re-running
# skips folds whose parser exists. OUT_DIR holds a pair folder of links to DATA_DIR (the
# data itself is never copied or written), the fold lists and the parsers.
set -euo pipefail
cd "$(dirname "$0")/.."
data=$(cd "${1:-../shared/data/cufs}" && pwd)
out=${2:-runs/cross-fit-parsers}
folds=${3:-2}
isegan=${ISEGAN:-.venv/bin/isegan}
python=${PYTHON:-.venv/bin/python}
mkdir -p "$out/pairs"
out=$(cd "$out" && pwd)
for kind in photos sketches; do
    ln -sfn "$data/$kind" "$out/pairs/$kind"
done
cp "$data/test.txt" "$out/pairs/test.txt"
# Fold k: every K-th training pair from offset k (CUHK and AR alike in every fold).
"$python" - "$data/train.txt" "$out" "$folds" <<'EOF'
import sys
from pathlib import Path

ids = Path(sys.argv[1]).read_text().split()
out, folds = Path(sys.argv[2]), int(sys.argv[3])
for k in range(folds):
    held = ids[k::folds]
    (out / f"fold-{k}.txt").write_text("\n".join(held) + "\n")
    rest = [i for i in ids if i not in set(held)]
    (out / "pairs" / f"train-without-fold-{k}.txt").write_text("\n".join(rest) + "\n")
EOF
epochs=$(( (35 * folds + folds - 2) / (folds - 1) ))
entries=()
for ((k = 0; k < folds; k++)); do
    if [ ! -f "$out/parser-$k/parser.safetensors" ]; then
        "$isegan" train-parser --data "$out/pairs" --split "train-without-fold-$k" \
            --out "$out/parser-$k" --labels-cache "$out/labels" --epochs "$epochs" \
            --base-channels 32 --input-size 256 --batch-size 8 --seed 0
    fi
    entries+=("{\"parser\":\"$out/parser-$k/parser.safetensors\",\"ids\":\"$out/fold-$k.txt\"}")
done
joined=$(IFS=,; echo "${entries[*]}")
echo "[$joined]" > "$out/held-out-parsers.json"
echo "wrote $out/held-out-parsers.json: $(cat "$out/held-out-parsers.json")"
