"""Copy a trained generator into the package as the default, stored in fp16.

fp16 storage halves the file; the script checks that the fp16 copy's photos stay within
a stated tolerance of the fp32 checkpoint's on bundled test sketches before installing.

    python scripts/install_default_model.py runs/default-model/generator.safetensors
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from isegan.model.pipeline import FacePipeline
from isegan.model.stamps import file_sha256
from isegan.model.weights.generator_pair import load_generators, save_generators
from isegan.model.weights.pretrained import default_parser_path

TARGET = Path(__file__).resolve().parents[1] / "model" / "pretrained" / "generator.safetensors"
MAX_MEAN_ABS_DIFFERENCE = 1.0  # grey levels (of 255), mean over pixels, per test sketch


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("checkpoint", type=Path)
    parser.add_argument("--data", type=Path, default=Path("../shared/data/cufs"))
    args = parser.parse_args()
    loaded = load_generators(args.checkpoint)
    TARGET.parent.mkdir(parents=True, exist_ok=True)
    model_id = save_generators(TARGET, loaded.generators, loaded.metadata, dtype=torch.float16)
    parser_path = default_parser_path()
    assert parser_path is not None
    ids = (args.data / "test.txt").read_text().split()[::20]
    sketches = [Image.open(args.data / "sketches" / f"{i}.png").convert("RGB") for i in ids]
    full = FacePipeline.from_files(args.checkpoint, parser_path, device="cpu")(sketches)
    half = FacePipeline.from_files(TARGET, parser_path, device="cpu")(sketches)
    worst = max(
        float(np.abs(np.asarray(a.photo, np.float64) - np.asarray(b.photo, np.float64)).mean())
        for a, b in zip(full, half, strict=True)
    )
    print(f"fp16 vs fp32: worst mean |difference| {worst:.3f} grey levels, {len(ids)} sketches")
    if worst > MAX_MEAN_ABS_DIFFERENCE:
        TARGET.unlink()
        raise SystemExit(f"fp16 copy differs too much ({worst:.3f} > {MAX_MEAN_ABS_DIFFERENCE})")
    record = {
        "model_id": model_id,
        "source_checkpoint_sha256": file_sha256(args.checkpoint),
        "storage": "float16",
        "fp16_vs_fp32_worst_mean_abs_grey_levels": round(worst, 4),
        "fp16_check_sketches": ids,
        "size_bytes": TARGET.stat().st_size,
    }
    TARGET.with_suffix(".json").write_text(json.dumps(record, indent=2) + "\n")
    print(f"installed {TARGET} ({TARGET.stat().st_size / 2**20:.1f} MiB, model id {model_id})")


if __name__ == "__main__":
    main()
