"""``isegan bench --peers``: G1+G2 alone under what a user might run instead of isegan.

The same real inputs (the bench sketches on the pipeline's canvas, P_s from the parser)
go through G1+G2 as

- torch eager fp32 (the reference every output difference is taken against);
- isegan's torch path (bf16 where the CPU computes it natively, channels_last,
  BatchNorm folded);
- isegan's default path, as the service runs it: the torch path or isegan's own
  OpenVINO backend, whichever the pipeline timed faster on this host
  (:mod:`isegan.model.openvino_backend`);
- ONNX Runtime, fp32, from the exported graph (:mod:`isegan.model.export`), when
  onnxruntime and onnx are installed;
- OpenVINO at its own default precision (bf16 on CPUs that have it), from the same
  graph, when openvino is installed;

at batch 1 and 4, all warmed and then timed in the same alternating rounds. The report
gives ms per image, page faults per call, the largest difference of the photo against
eager fp32 in grey levels, and the default pipeline (parse and post-processing
included) over the fastest peer's G1+G2 alone.
"""

from __future__ import annotations

import copy
import statistics
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import torch
from PIL import Image

from isegan.cli.benchmark import Contender, alternate, warm
from isegan.model.export import GeneratorGraph, export_generators
from isegan.model.inference_options import (
    InferenceOptions,
    autocast,
    channels_last_input,
    prepare,
    resolve_precision,
)
from isegan.model.openvino_backend import describe
from isegan.model.pipeline import FacePipeline
from isegan.model.preprocess import Preprocess
from isegan.model.weights.generator_pair import Generators

BATCH_SIZES = (1, 4)
Runner = Callable[[np.ndarray, np.ndarray], np.ndarray]


def peer_inputs(
    parser: torch.nn.Module, sketches: list[Image.Image], batch_size: int, size: int
) -> tuple[np.ndarray, np.ndarray]:
    """``batch_size`` sketches on the canvas and their P_s, as fp32 arrays."""
    preprocess = Preprocess()
    chosen = [sketches[i % len(sketches)] for i in range(batch_size)]
    canvas = torch.stack([preprocess.to_canvas(s)[0] for s in chosen])
    assert canvas.shape[-1] == size, "the canvas is what the graph was exported at"
    reference = copy.deepcopy(parser).float().cpu().eval()
    with torch.inference_mode():
        parsing = reference(canvas)
    return canvas.numpy(), parsing.float().numpy()


def torch_runner(generators: Generators, options: InferenceOptions | None) -> Runner:
    """G1+G2 in torch: eager fp32 (``options`` None) or prepared as ``options`` say."""
    device = torch.device("cpu")
    graph = GeneratorGraph(copy.deepcopy(generators)).float().eval()
    precision = resolve_precision(options.precision, device) if options else "fp32"
    if options is not None:
        for network in (graph.stage1, graph.stage2):
            if network is not None:
                prepare(network, options, precision)

    def run(sketch: np.ndarray, parsing: np.ndarray) -> np.ndarray:
        inputs = [torch.from_numpy(sketch), torch.from_numpy(parsing)]
        if options is not None:
            inputs = [channels_last_input(tensor, options) for tensor in inputs]
        with torch.inference_mode(), autocast(precision, device):
            photo: torch.Tensor = graph(*inputs)[0]
        return np.asarray(photo.float().numpy())

    return run


def default_runner(generators: Generators, parser: torch.nn.Module) -> tuple[Runner, str]:
    """G1+G2 as the default pipeline runs them on this host, and its backend's name."""
    pipeline = FacePipeline(
        copy.deepcopy(parser), copy.deepcopy(generators), device=torch.device("cpu"),
        options=InferenceOptions(),
    )  # fmt: skip

    def run(sketch: np.ndarray, parsing: np.ndarray) -> np.ndarray:
        photo = pipeline.generate(torch.from_numpy(sketch), torch.from_numpy(parsing))[0]
        return np.asarray(photo.numpy())

    return run, describe(pipeline.backends.generators, pipeline.precision)


def onnxruntime_runner(graph_file: Path) -> Runner | None:
    try:
        import onnxruntime
    except ImportError:
        return None
    options = onnxruntime.SessionOptions()
    options.intra_op_num_threads = torch.get_num_threads()
    session = onnxruntime.InferenceSession(
        str(graph_file), options, providers=["CPUExecutionProvider"]
    )

    def run(sketch: np.ndarray, parsing: np.ndarray) -> np.ndarray:
        photo: np.ndarray = session.run(["photo"], {"sketch": sketch, "sketch_parsing": parsing})[0]
        return photo

    return run


def openvino_runner(graph_file: Path) -> tuple[Runner, str] | None:
    try:
        import openvino
    except ImportError:
        return None
    core = openvino.Core()
    compiled = core.compile_model(
        str(graph_file),
        "CPU",
        {"PERFORMANCE_HINT": "LATENCY", "INFERENCE_NUM_THREADS": torch.get_num_threads()},
    )
    hint = compiled.get_property("INFERENCE_PRECISION_HINT")
    precision = hint.to_string() if hasattr(hint, "to_string") else str(hint)
    request = compiled.create_infer_request()

    def run(sketch: np.ndarray, parsing: np.ndarray) -> np.ndarray:
        outputs = request.infer({"sketch": sketch, "sketch_parsing": parsing})
        return np.asarray(outputs[compiled.output("photo")])

    return run, precision


def compare_peers(
    generators: Generators,
    parser: torch.nn.Module,
    sketches: list[Image.Image],
    device: torch.device,
    *,
    rounds: int,
    calls: int,
    pipeline_ms: float,
) -> dict[str, Any]:
    """The peers' table (see the module's docstring); ``pipeline_ms`` is the default
    pipeline's median ms per image at batch 1 from the same bench run (a median, as the
    peers' are: a mean would charge the pipeline alone for its first call after another
    path, which runs with that path's threads still spinning)."""
    if device.type != "cpu":
        return {"skipped": "the peers are CPU runtimes; run --peers with --device cpu"}
    size = Preprocess().config.canvas_size
    with tempfile.TemporaryDirectory() as folder:
        graph_file = Path(folder) / "generators.onnx"
        export_error = None
        try:
            export_generators(generators, graph_file, (size, size))
        except RuntimeError as error:  # the onnx package is missing
            export_error = str(error)
        default, default_label = default_runner(generators, parser)
        runners: dict[str, Runner] = {
            "torch eager fp32": torch_runner(generators, None),
            "isegan torch": torch_runner(generators, InferenceOptions(backend="torch")),
            "isegan default": default,
        }
        labels: dict[str, str] = {
            "torch eager fp32": "fp32",
            "isegan torch": resolve_precision("auto", device),
            "isegan default": default_label,
        }
        if export_error is None:
            ort = onnxruntime_runner(graph_file)
            if ort is not None:
                runners["onnxruntime"], labels["onnxruntime"] = ort, "fp32"
            ov = openvino_runner(graph_file)
            if ov is not None:
                runners["openvino"], labels["openvino"] = ov
        return _time_peers(runners, labels, parser, sketches, size, rounds, calls, pipeline_ms,
                           export_error)  # fmt: skip


def _bound(runner: Runner, sketch: np.ndarray, parsing: np.ndarray) -> Callable[[], object]:
    return lambda: runner(sketch, parsing)


def _time_peers(
    runners: dict[str, Runner],
    labels: dict[str, str],
    parser: torch.nn.Module,
    sketches: list[Image.Image],
    size: int,
    rounds: int,
    calls: int,
    pipeline_ms: float,
    export_error: str | None,
) -> dict[str, Any]:
    device = torch.device("cpu")
    rows: list[dict[str, Any]] = []
    for batch_size in BATCH_SIZES:
        sketch, parsing = peer_inputs(parser, sketches, batch_size, size)
        reference = runners["torch eager fp32"](sketch, parsing)
        contenders = []
        for name, runner in runners.items():
            difference = np.abs(runner(sketch, parsing) - reference).max() * 127.5
            contender = Contender(name, _bound(runner, sketch, parsing))
            warm(contender, device, 2)
            contenders.append((contender, float(difference)))
        alternate([c for c, _ in contenders], device, rounds=rounds, calls=calls)
        for contender, difference in contenders:
            rows.append({
                "runtime": contender.name,
                "precision": labels[contender.name],
                "batch_size": batch_size,
                "ms_per_image": statistics.median(contender.seconds) * 1000 / batch_size,
                "minor_faults_per_call": statistics.median(contender.faults),
                "max_difference_grey_levels": difference,
            })  # fmt: skip
    report: dict[str, Any] = {"rows": rows, "pipeline_ms_batch1": pipeline_ms}
    peers = [
        r for r in rows if r["batch_size"] == 1 and not r["runtime"].startswith(("torch", "isegan"))
    ]
    if peers:
        fastest = min(peers, key=lambda r: r["ms_per_image"])
        report["pipeline_over_fastest_peer"] = pipeline_ms / fastest["ms_per_image"]
        report["fastest_peer"] = fastest["runtime"]
    if export_error:
        report["not_measured"] = export_error
    return report
