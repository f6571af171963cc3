"""`isegan export --format onnx` on the bundled model: the files ONNX Runtime runs give
eager fp32 torch's outputs within 1e-4, on real CUFS sketches, with the checkpoint's own
layers and with the output heads rewritten as the pipeline runs them."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import onnx
import onnxruntime
import pytest
import torch

from isegan.model.export import GeneratorGraph
from isegan.model.parsing import load_parser
from isegan.model.preprocess import Preprocess
from isegan.model.weights.generator_pair import load_generators
from isegan.model.weights.pretrained import default_generator_path, default_parser_path


@pytest.mark.parametrize("subpixel", [False, True], ids=["own-layers", "subpixel-heads"])
def test_export_writes_graphs_that_match_eager_fp32(
    cufs_sketches, tmp_path: Path, subpixel: bool
) -> None:
    out = tmp_path / "onnx"
    flags = ["--subpixel-heads"] if subpixel else []
    done = subprocess.run(
        [sys.executable, "-m", "isegan.cli.main", "export", "--format", "onnx", "-o", str(out),
         *flags],
        capture_output=True, text=True, timeout=600, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    manifest = json.loads((out / "export.json").read_text())
    assert manifest["subpixel_heads"] == int(subpixel)
    operators = [node.op_type for node in onnx.load(out / "generators.onnx").graph.node]
    assert ("DepthToSpace" in operators) == subpixel
    assert set(manifest["files"]) == {"generators.onnx", "parser.onnx"}
    assert manifest["files"]["generators.onnx"]["outputs"] == [
        "photo", "stage1_photo", "intermediate_parsing",
    ]  # fmt: skip
    assert manifest["max_difference_photo"] <= 1e-4

    # Independently: real sketches on the pipeline's canvas, batch 3.
    preprocess = Preprocess()
    canvas = torch.stack([preprocess.to_canvas(s)[0] for s in cufs_sketches])
    parser = load_parser(default_parser_path()).parser.float().eval()
    generators = load_generators(default_generator_path()).generators.eval()
    with torch.inference_mode():
        parsing = parser(canvas)
        photo, stage1, intermediate = GeneratorGraph(generators)(canvas, parsing)
    parsed = onnxruntime.InferenceSession(str(out / "parser.onnx")).run(
        None, {"sketch": canvas.numpy()}
    )[0]
    outputs = onnxruntime.InferenceSession(str(out / "generators.onnx")).run(
        None, {"sketch": canvas.numpy(), "sketch_parsing": parsing.numpy()}
    )
    assert np.abs(parsed - parsing.numpy()).max() <= 1e-4
    for exported, eager in zip(outputs, (photo, stage1, intermediate), strict=True):
        assert exported.shape == tuple(eager.shape)
        assert np.abs(exported - eager.numpy()).max() <= 1e-4
    assert manifest["model_id"] == manifest["model_id"].lower() and len(manifest["model_id"]) == 64
