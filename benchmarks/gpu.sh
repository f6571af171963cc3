#!/usr/bin/env bash
# The GPU checks, as one short script for a lent GPU machine (run from the repository
# root after the README's test install, or on a bare machine with PYTHON naming an
# interpreter that can import isegan and torch): the CUDA path end to end, AMP, speed.
#   benchmarks/gpu.sh OUT_DIR [CUFS_DIR]
# Writes to OUT_DIR, one step at a time so that a failing step leaves the others:
#   tests.log           the gpu-marked tests (CUDA against CPU, optimised against fp32)
#   bench-paper.json    every path at the paper's sizes, batch 1 to 32, with torch.compile
#   bench-bundled.json  the bundled model on real sketches, batch 1 to 32
#   service-latency.txt the real service on CUDA under concurrent load
#   train-step.json     the full preset at the paper's width, bf16 AMP, batch 1 and 8:
#                       s/step, images/s, peak memory, projected wall time of 700 epochs
#   ddp.log             with two GPUs or more, a 2-process DDP smoke run
# STEPS="tests bench-paper ..." runs only the steps named (a lent machine's carry limit
# may not fit every step's packages at once).
#   sweep/              STEPS=sweep only (never by default): scripts/sweep_recipe.sh's
#                       V3_RECIPE variants (the file $SWEEP_FILE, one NAME=FLAGS per line;
#                       $ISEGAN an executable isegan command) trained side by side
#                       on CUDA, each step picked on the validation slice; needs dlib's
#                       face-recognition .dat ($FACE_MODEL). Measured on an H200: six
#                       variants of 1,200 steps train in 3.8 min together, and six picks
#                       took longer than the 4 min left of a 10-minute call, so give it at
#                       most three variants per call.
#   steps.txt           each step's exit status (124: ran past its limit) and seconds
# Budget: under 8 minutes on one H100/H200. TensorRT, what a GPU user would pick as the
# peer (issue "Faster than what a CPU user would pick"), is measured where it is installed.
set -uo pipefail
out=${1:?usage: benchmarks/gpu.sh OUT_DIR [CUFS_DIR]}
data=${2:-${ISEGAN_CUFS_DIR:-../shared/data/cufs}}
python=${PYTHON:-.venv/bin/python}
mkdir -p "$out"
export ISEGAN_CUFS_DIR=$data PYTHONUNBUFFERED=1

step() {  # step NAME OUTPUT SECONDS COMMAND...: one check within SECONDS; record; go on
    local name=$1 output=$2 limit=$3 started=$SECONDS status
    shift 3
    case " ${STEPS:-$name} " in *" $name "*) ;; *) return 0 ;; esac
    timeout "$limit" "$@" >"$output" 2>"$out/$name.err"
    status=$?
    echo "$name exit=$status seconds=$((SECONDS - started))" | tee -a "$out/steps.txt"
}

"$python" -c "import torch; assert torch.cuda.is_available(), 'no CUDA device'; print(torch.__version__, torch.cuda.get_device_name())" |
    tee "$out/device.txt" || exit 1
bench=("$python" -m isegan.cli.bench)  # the command alone: no service or signing packages needed
step tests "$out/tests.log" 150 "$python" -m pytest -q -p no:cacheprovider \
    tests/model/test_gpu.py tests/model/test_inference_options.py tests/model/test_pipeline.py
step bench-paper "$out/bench-paper.json" 170 "${bench[@]}" --device cuda --model paper \
    --batch-sizes 1 8 32 --calls 20 --compile --json
step bench-bundled "$out/bench-bundled.json" 80 "${bench[@]}" --device cuda \
    --batch-sizes 1 8 32 --calls 20 --sketches "$data/sketches" --json
step service-latency "$out/service-latency.txt" 120 "$python" benchmarks/service_latency.py \
    --data "$data" --device cuda --requests 64 --concurrency 1 8 32 --max-batch-size 32
step train-step "$out/train-step.json" 80 "$python" benchmarks/train_step.py --device cuda \
    --widths 64 --batch-sizes 1 8 --precision bf16 --channels-last --steps 20 --warmup 3 --json
if [[ " ${STEPS:-} " == *" sweep "* ]]; then
    mapfile -t variants <"${SWEEP_FILE:?STEPS=sweep needs SWEEP_FILE}"
    ISEGAN=${ISEGAN:?STEPS=sweep needs ISEGAN} PYTHON=$python DEVICE=cuda \
        step sweep "$out/sweep.log" 540 scripts/sweep_recipe.sh "$data" "$out/sweep" \
        "${variants[@]}"
fi
gpus=$("$python" -c "import torch; print(torch.cuda.device_count())")
if [ "$gpus" -ge 2 ]; then
    step ddp "$out/ddp.log" 120 "$python" -m torch.distributed.run --nproc-per-node 2 \
        -m isegan.cli.main train --preset full --data "$data" --out "$out/ddp-run" \
        --max-steps 20 --ngf 64 --batch-size 4 --precision bf16 --no-progress
fi
! grep -qv "exit=0" "$out/steps.txt"
