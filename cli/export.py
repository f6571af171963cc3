"""``isegan export --format onnx``: the networks as ONNX files for other runtimes.

Writes ``generators.onnx`` (G1 then G2), ``parser.onnx`` and ``export.json`` to the
output folder (:mod:`isegan.model.export` says what goes in and out of each). Where
ONNX Runtime is installed, both files are run on drawn sketches and compared with eager
fp32 torch, and the largest differences are printed and recorded.
"""

from __future__ import annotations

import argparse
import copy
import json
from pathlib import Path

import numpy as np
import torch

from isegan.cli.weights import add_parser_options, parser_weights, require_weights
from isegan.model.export import (
    ExportedGraph,
    GeneratorGraph,
    export_generators,
    export_parser,
    write_manifest,
)
from isegan.model.networks.subpixel import rewrite_resize_convs
from isegan.model.parsing import FaceParser, load_parser
from isegan.model.preprocess import Preprocess
from isegan.model.stamps import file_sha256
from isegan.model.version import code_version
from isegan.model.weights.generator_pair import Generators, load_generators
from isegan.model.weights.pretrained import default_generator_path


def add_parser(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "export",
        help="write the networks as ONNX files (Triton, ONNX Runtime, OpenVINO)",
        description="Writes generators.onnx (G1 then G2), parser.onnx and export.json "
        "(model ids, inputs, outputs, and the largest difference from eager fp32 torch "
        "where onnxruntime is installed) to --out.",
    )
    parser.add_argument("--format", choices=("onnx",), default="onnx", help="onnx (default)")
    parser.add_argument("-o", "--out", type=Path, required=True, help="output folder")
    parser.add_argument(
        "--checkpoint", type=Path, help="generator checkpoint (default: the bundled model)"
    )
    parser.add_argument(
        "--subpixel-heads",
        action="store_true",
        help="write the generators' output heads as the pipeline runs them on a CPU: one "
        "low-resolution convolution and a pixel shuffle instead of a resize and a 3x3 "
        "convolution (the same function up to rounding, about a sixth faster G1+G2); by "
        "default the graph has the checkpoint's own layers",
    )
    add_parser_options(parser)
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    checkpoint = require_weights(
        args.checkpoint, "--checkpoint", "generator checkpoint", default_generator_path()
    )
    parser_file = parser_weights(args)
    loaded = load_parser(parser_file, "cpu", args.parser_backend)
    if not isinstance(loaded.parser, FaceParser):
        raise ValueError("only isegan's own parsers export to ONNX (--parser-backend isegan)")
    generators = load_generators(checkpoint, "cpu").generators.eval()
    size = Preprocess().config.canvas_size
    out: Path = args.out
    out.mkdir(parents=True, exist_ok=True)
    exported = generators
    if args.subpixel_heads:
        exported = copy.deepcopy(generators)
        for network in exported.networks().values():
            rewrite_resize_convs(network)
    graphs = [
        export_generators(exported, out / "generators.onnx", (size, size)),
        export_parser(loaded.parser.eval(), out / "parser.onnx", (size, size)),
    ]
    facts: dict[str, str | int | float] = {
        "model_id": file_sha256(checkpoint),
        "parser_id": loaded.parser_id,
        "code_version": code_version(),
        "canvas_size": size,
        "subpixel_heads": int(args.subpixel_heads),
    }
    differences = compare_with_torch(graphs, generators, loaded.parser, size)
    facts.update(differences)
    write_manifest(out, graphs, facts)
    for graph in graphs:
        print(f"wrote {graph.path} ({graph.path.stat().st_size / 2**20:.1f} MiB)")
    if differences:
        print("largest difference from eager fp32 torch: " + json.dumps(differences))
    return 0


def compare_with_torch(
    graphs: list[ExportedGraph], generators: Generators, parser: torch.nn.Module, size: int
) -> dict[str, float]:
    """The exported files against eager fp32 on the same random canvases (empty where
    onnxruntime is not installed)."""
    try:
        import onnxruntime
    except ImportError:
        return {}
    torch.manual_seed(0)
    sketch = torch.rand(2, 3, size, size) * 2 - 1
    with torch.inference_mode():
        parsing = parser.float()(sketch)
        photo = GeneratorGraph(generators).float()(sketch, parsing)[0]
    sessions = {g.path.name: onnxruntime.InferenceSession(str(g.path)) for g in graphs}
    onnx_parsing = sessions["parser.onnx"].run(["parsing"], {"sketch": sketch.numpy()})[0]
    onnx_photo = sessions["generators.onnx"].run(
        ["photo"], {"sketch": sketch.numpy(), "sketch_parsing": parsing.numpy()}
    )[0]
    return {
        "max_difference_parser": float(np.abs(onnx_parsing - parsing.numpy()).max()),
        "max_difference_photo": float(np.abs(onnx_photo - photo.numpy()).max()),
    }
