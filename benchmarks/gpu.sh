#!/usr/bin/env bash
# The GPU checks, as one short script for a lent GPU machine (run from the repository
# root after the README's test install): the CUDA path end to end, AMP, and throughput.
#   benchmarks/gpu.sh OUT_DIR [CUFS_DIR]
# Writes bench-paper.json (every path, batch 1 to 32, with --compile), bench-bundled.json,
# service-latency.txt (the real service on CUDA under concurrent load), train-step.json
# (the full preset at the paper's width, bf16 AMP, batch 1 and 8: s/step, images/s, peak
# memory, the projected wall time of 700 epochs) and, with two GPUs or more, ddp.log (a
# 2-process DDP smoke run) to OUT_DIR. Budget: under 8 minutes on one H100/H200.
set -euo pipefail
out=${1:?usage: benchmarks/gpu.sh OUT_DIR [CUFS_DIR]}
data=${2:-${ISEGAN_CUFS_DIR:-../shared/data/cufs}}
mkdir -p "$out"
python=.venv/bin/python
"$python" -c "import torch; assert torch.cuda.is_available(), 'no CUDA device'; print(torch.cuda.get_device_name())"
.venv/bin/pytest -q tests/model/test_gpu.py tests/model/test_inference_options.py tests/model/test_pipeline.py
.venv/bin/isegan bench --device cuda --model paper --batch-sizes 1 8 32 --calls 20 \
    --compile --json > "$out/bench-paper.json"
.venv/bin/isegan bench --device cuda --batch-sizes 1 8 32 --calls 20 \
    --sketches "$data/sketches" --json > "$out/bench-bundled.json"
"$python" benchmarks/service_latency.py --data "$data" --device cuda --requests 64 \
    --concurrency 1 8 32 --max-batch-size 32 > "$out/service-latency.txt"
"$python" benchmarks/train_step.py --device cuda --widths 64 --batch-sizes 1 8 \
    --precision bf16 --channels-last --steps 20 --warmup 3 --json > "$out/train-step.json"
gpus=$("$python" -c "import torch; print(torch.cuda.device_count())")
if [ "$gpus" -ge 2 ]; then
    .venv/bin/torchrun --nproc-per-node 2 -m isegan.cli.main train --preset full \
        --data "$data" --out "$out/ddp-run" --max-steps 20 --ngf 64 --batch-size 4 \
        --precision bf16 --no-progress > "$out/ddp.log" 2>&1
fi
