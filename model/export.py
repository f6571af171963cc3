"""The networks as ONNX graphs, for users who serve with Triton, ONNX Runtime or OpenVINO.

Two files, as the pipeline runs them:

- ``generators.onnx``: G1 then G2 in one graph. Inputs ``sketch`` (N, 3, H, W), the
  sketch on the pipeline's canvas in [-1, 1], and ``sketch_parsing`` (N, 8, H, W), P_s
  as class probabilities; outputs ``photo`` (Y2, or Y1 for a stage-I-only model),
  ``stage1_photo`` (Y1), both in [-1, 1], and ``intermediate_parsing`` (P_int, class
  probabilities).
- ``parser.onnx``: the face parser. Input ``sketch`` as above (the parser's own resize
  is inside the graph when the parser has one); output ``parsing``, P_s as class
  probabilities.

The batch is dynamic; H and W are those the graphs were exported at (the pipeline's
canvas unless told otherwise). ``isegan export`` writes both with ``export.json``, which
names the model and parser ids and the shapes.
"""

from __future__ import annotations

import json
import warnings
from dataclasses import dataclass
from pathlib import Path

import torch
from torch import nn

from isegan.model.face_classes import NUM_FACE_CLASSES
from isegan.model.weights.generator_pair import Generators

#: The ONNX operator set the files use (ONNX Runtime 1.17+, OpenVINO 2023+ read it).
OPSET = 17
INSTALL_HINT = "exporting to ONNX needs the onnx package: pip install 'isegan[export]'"


class GeneratorGraph(nn.Module):
    """G1 then G2 with plain tensors in and out: what is exported and what peer runtimes
    are compared on."""

    def __init__(self, generators: Generators) -> None:
        super().__init__()
        self.stage1 = generators.stage1
        self.stage2 = generators.stage2

    def forward(
        self, sketch: torch.Tensor, sketch_parsing: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        first = self.stage1(sketch, sketch_parsing)
        photo = first.photo
        if self.stage2 is not None:
            photo = self.stage2(sketch_parsing, first.parsing, first.photo, sketch)
        return photo, first.photo, first.parsing


@dataclass(frozen=True)
class ExportedGraph:
    path: Path
    inputs: dict[str, list[int | str]]
    outputs: list[str]


def _require_onnx() -> None:
    try:
        import onnx  # noqa: F401
    except ImportError:
        raise RuntimeError(INSTALL_HINT) from None


def _export(
    module: nn.Module,
    example: tuple[torch.Tensor, ...],
    path: Path,
    inputs: list[str],
    outputs: list[str],
) -> ExportedGraph:
    _require_onnx()
    axes = {name: {0: "batch"} for name in (*inputs, *outputs)}
    with warnings.catch_warnings(), torch.no_grad():
        warnings.simplefilter("ignore")  # the TorchScript exporter's deprecation notices
        torch.onnx.export(
            module.eval(),
            example,
            str(path),
            dynamo=False,  # the TorchScript exporter: no onnxscript needed, stable names
            input_names=inputs,
            output_names=outputs,
            dynamic_axes=axes,
            opset_version=OPSET,
        )
    shapes: dict[str, list[int | str]] = {
        name: ["batch", *tensor.shape[1:]] for name, tensor in zip(inputs, example, strict=True)
    }
    return ExportedGraph(path, shapes, outputs)


def export_generators(
    generators: Generators, path: Path, size: tuple[int, int] = (256, 256)
) -> ExportedGraph:
    """G1+G2 as one fp32 ONNX graph at ``size`` (H, W) with a dynamic batch."""
    graph = GeneratorGraph(generators).float().cpu()
    sketch = torch.rand(1, 3, *size) * 2 - 1
    parsing = torch.softmax(torch.randn(1, NUM_FACE_CLASSES, *size), dim=1)
    return _export(
        graph,
        (sketch, parsing),
        path,
        ["sketch", "sketch_parsing"],
        ["photo", "stage1_photo", "intermediate_parsing"],
    )


def export_parser(
    parser: nn.Module, path: Path, size: tuple[int, int] = (256, 256)
) -> ExportedGraph:
    """The face parser as an fp32 ONNX graph at ``size`` with a dynamic batch."""
    sketch = torch.rand(1, 3, *size) * 2 - 1
    return _export(parser.float().cpu(), (sketch,), path, ["sketch"], ["parsing"])


def write_manifest(
    folder: Path, graphs: list[ExportedGraph], facts: dict[str, str | int | float]
) -> Path:
    """``export.json``: each file's inputs and outputs, and which model it is."""
    manifest = {
        **facts,
        "opset": OPSET,
        "files": {g.path.name: {"inputs": g.inputs, "outputs": g.outputs} for g in graphs},
    }
    path = folder / "export.json"
    path.write_text(json.dumps(manifest, indent=2) + "\n")
    return path
