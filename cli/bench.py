"""``isegan bench``: the eager fp32 baseline and every optimised inference path, measured
in one process on the same sketches, with speed-ups, achieved GFLOP/s against the
machine's own matmul peak, page faults and peak memory.

Every path is built and warmed first, then all are timed in alternating rounds (their
order rotated each round), so that no path's figure depends on what ran just before it:
eager fp32 takes tens of thousands of minor page faults a call, and timed alone after a
cold start it measured half again slower than warmed and alternated. ``--peers`` adds
G1+G2 under ONNX Runtime and OpenVINO where they are installed (:mod:`isegan.cli.peers`)."""

from __future__ import annotations

import argparse
import copy
import json
import statistics
import sys
from dataclasses import dataclass
from pathlib import Path

import torch
from PIL import Image, ImageDraw

from isegan.cli.benchmark import (
    Contender,
    PathResult,
    PeakMemory,
    alternate,
    count_flops,
    matmul_peak,
    stage_breakdown,
    summarise,
    warm,
)
from isegan.cli.images import expand_inputs, read_image
from isegan.cli.weights import add_parser_options, parser_weights, require_weights
from isegan.model.config import GeneratorConfig, IseganConfig, ParserConfig
from isegan.model.cufs_frame import CUFS_SIZE
from isegan.model.device import resolve_device
from isegan.model.inference_options import InferenceOptions, native_bf16, resolve_precision
from isegan.model.long_lived import freeze_long_lived_objects
from isegan.model.networks.parser import BiSeNet
from isegan.model.openvino_backend import openvino_available
from isegan.model.parsing import FaceParser, load_parser
from isegan.model.pipeline import FacePipeline
from isegan.model.weights.generator_pair import Generators, build_generators, load_generators
from isegan.model.weights.pretrained import default_generator_path

#: The paper's sizes: pix2pix unet_256 at ngf=64 for G1 and G2, BiSeNet (ResNet-18) at
#: 512x512 with the 19 CelebAMask-HQ classes of the public face-parsing weights.
PAPER_GENERATOR = IseganConfig(generator=GeneratorConfig(base_channels=64))
PAPER_PARSER = ParserConfig(base_channels=64, label_scheme="celebamask-hq-19", input_size=512)


def add_parser(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "bench",
        help="measure inference speed: eager fp32 against every optimised path",
        description="Runs the whole pipeline (parse, G1, G2, pre- and post-processing) on "
        "the same sketches along each path and reports images/s, latency, the speed-up "
        "over eager fp32 at batch 1, GFLOP/s against a matmul peak measured here, and "
        "peak memory.",
    )
    parser.add_argument(
        "--model",
        choices=("bundled", "paper"),
        default="bundled",
        help="bundled: the packaged (or --checkpoint/--parser) weights; paper: random "
        "weights at the paper's sizes (G1+G2 ngf=64, BiSeNet ResNet-18 at 512x512)",
    )
    parser.add_argument("--checkpoint", type=Path, help="generator checkpoint (bundled model)")
    add_parser_options(parser)
    parser.add_argument(
        "--sketches", nargs="*", type=Path, default=[],
        help="sketch files or folders to run (default: 8 drawn test sketches)",
    )  # fmt: skip
    parser.add_argument(
        "--batch-sizes", type=int, nargs="+", default=[1, 4, 8],
        help="batch sizes for the optimised paths (default 1 4 8)",
    )  # fmt: skip
    parser.add_argument(
        "--calls", type=int, default=3, help="timed calls per path in each round (default 3)"
    )
    parser.add_argument(
        "--rounds",
        type=int,
        default=4,
        help="rounds of timed calls; every path runs once per round, in rotated order (default 4)",
    )
    parser.add_argument(
        "--warmup", type=int, default=2, help="untimed calls per path first (at least 1)"
    )
    parser.add_argument(
        "--peers",
        action="store_true",
        help="also time G1+G2 alone under torch, ONNX Runtime and OpenVINO (those "
        "installed) in the same alternating rounds, with their output differences",
    )
    parser.add_argument("--threads", type=int, help="torch intra-op threads (default: torch's)")
    parser.add_argument(
        "--compile", action="store_true", help="also measure torch.compile paths (slow start)"
    )
    parser.add_argument("--json", action="store_true", help="print one JSON object instead")
    parser.set_defaults(run=run)


@dataclass(frozen=True)
class BenchPath:
    name: str
    options: InferenceOptions
    batch_size: int


def plan_paths(device: torch.device, batch_sizes: list[int], with_compile: bool) -> list[BenchPath]:
    """The baseline first, then each optimisation added in turn, then batching."""
    reference = InferenceOptions.reference()
    fast = InferenceOptions(backend="torch")
    best = resolve_precision("auto", device)
    optimised = f"{best}+channels_last+fold_bn+subpixel+direct_resize"
    paths = [
        BenchPath("eager-fp32", reference, 1),
        BenchPath("fp32+channels_last", reference.model_copy(update={"channels_last": True}), 1),
        BenchPath(
            "fp32+channels_last+fold_bn+subpixel+direct_resize",
            InferenceOptions(precision="fp32", backend="torch"),
            1,
        ),
    ]
    if best != "fp32":
        paths.append(BenchPath(optimised, fast, 1))
    for size in batch_sizes:
        if size > 1:
            paths.append(BenchPath(optimised, fast, size))
    if device.type == "cpu" and openvino_available():
        # the default: each network on whichever of torch and OpenVINO timed faster here
        for size in sorted({1, *batch_sizes}):
            paths.append(BenchPath("default (backend auto)", InferenceOptions(), size))
    if with_compile:
        compiled = fast.model_copy(update={"compile": True})
        for size in sorted({1, max(batch_sizes)}):
            paths.append(BenchPath(optimised + "+compile", compiled, size))
    return paths


def drawn_sketches(count: int) -> list[Image.Image]:
    """Line drawings of a face at the CUFS size, each a little different."""
    sketches = []
    for index in range(count):
        image = Image.new("RGB", CUFS_SIZE, "white")
        draw = ImageDraw.Draw(image)
        shift = index * 2
        draw.ellipse((40 + shift, 40, 160 - shift, 210), outline="black", width=2)
        draw.ellipse((70, 100, 90, 110), outline="black", width=2)
        draw.ellipse((110, 100, 130, 110), outline="black", width=2)
        draw.line((100, 115, 95 + shift // 2, 145), fill="black", width=2)
        draw.arc((80, 160, 120, 180), 0, 180, fill="black", width=2)
        sketches.append(image)
    return sketches


def load_networks(
    args: argparse.Namespace, device: torch.device
) -> tuple[torch.nn.Module, Generators, str]:
    if args.model == "paper":
        torch.manual_seed(0)
        paper = FaceParser(BiSeNet.from_config(PAPER_PARSER), PAPER_PARSER).eval()
        return paper, build_generators(PAPER_GENERATOR).eval(), "paper-size random weights"
    checkpoint = require_weights(
        args.checkpoint, "--checkpoint", "generator", default_generator_path()
    )
    generators = load_generators(checkpoint, device).generators
    parser_file = parser_weights(args)
    parser = load_parser(parser_file, device, args.parser_backend).parser
    return parser, generators, f"{checkpoint.name} + {parser_file.name}"


def run(args: argparse.Namespace) -> int:
    if args.threads:
        torch.set_num_threads(args.threads)
    device = resolve_device(args.device)
    parser, generators, model_name = load_networks(args, device)
    sketches = [read_image(path) for path in expand_inputs(args.sketches)] or drawn_sketches(8)

    reference = FacePipeline(copy.deepcopy(parser), copy.deepcopy(generators), device=device)
    flops = count_flops(lambda: reference(sketches[:1]))
    peaks = {"fp32": matmul_peak(device, torch.float32)}
    if device.type == "cuda" or native_bf16(device):
        peaks["bf16"] = matmul_peak(device, torch.bfloat16)
    if device.type == "cuda":
        peaks["fp16"] = matmul_peak(device, torch.float16)

    measured = [
        MeasuredPath(path, parser, generators, sketches, device, args.warmup)
        for path in plan_paths(device, args.batch_sizes, args.compile)
    ]  # all built and warmed before any is timed
    freeze_long_lived_objects()  # as the service does once its model is loaded
    alternate([m.contender for m in measured], device, rounds=args.rounds, calls=args.calls)
    results = [m.result(flops, peaks, args.rounds * args.calls) for m in measured]
    for result in results:
        result.speedup = result.images_per_s / results[0].images_per_s

    fastest_peak = max(peaks.values())
    report = {
        "device": str(device),
        "threads": torch.get_num_threads(),
        "torch": torch.__version__,
        "model": model_name,
        "sketches": len(sketches),
        "gflop_per_image": flops / 1e9,
        "matmul_peak_gflops": peaks,
        "floor_ms_per_image": flops / fastest_peak / 1e6,
        "baseline": results[0].as_dict(),
        "paths": [result.as_dict() for result in results],
        "best": max(results, key=lambda r: r.images_per_s).as_dict(),
        "method": f"every path warmed ({max(args.warmup, 1)} calls), then {args.rounds} "
        f"rounds of {args.calls} calls per path, order rotated each round",
    }
    if args.peers:
        from isegan.cli.peers import compare_peers

        report["peers"] = compare_peers(
            generators, parser, sketches, device, rounds=args.rounds, calls=args.calls,
            pipeline_ms=results[default_path_index(measured, device)].latency_p50_ms,
        )  # fmt: skip
    if args.json:
        print(json.dumps(report, indent=2))
    else:
        print_table(report, results)
    return 0


def default_path_index(measured: list[MeasuredPath], device: torch.device) -> int:
    """Which path is what the service and CLI run by default, at batch 1."""
    wanted = InferenceOptions()
    for index, path in enumerate(measured):
        if path.path.batch_size == 1 and path.path.options == wanted:
            return index
    # without openvino the default backend is torch: the torch path at the best precision
    best = resolve_precision("auto", device)
    for index, path in enumerate(measured):
        options = path.path.options.model_copy(update={"precision": "auto", "backend": "auto"})
        if path.path.batch_size == 1 and path.pipeline.precision == best and options == wanted:
            return index
    raise LookupError("no path runs the default options at batch 1")


class MeasuredPath:
    """One path on its own copy of the networks (preparing them changes them): built,
    warmed, and timed by :func:`~isegan.cli.benchmark.alternate` beside the others."""

    def __init__(
        self,
        path: BenchPath,
        parser: torch.nn.Module,
        generators: Generators,
        sketches: list[Image.Image],
        device: torch.device,
        warmup: int,
    ) -> None:
        self.path, self.device = path, device
        self.pipeline = FacePipeline(
            copy.deepcopy(parser), copy.deepcopy(generators), device=device, options=path.options
        )
        size = path.batch_size
        self._batches = [[sketches[(i * size + j) % len(sketches)] for j in range(size)]
                         for i in range(len(sketches))]  # fmt: skip
        self._calls = 0
        self.timings: list[dict[str, float]] = []
        self.memory = PeakMemory(device)
        self.contender = Contender(path.name, self._call)
        with self.memory:
            warm(self.contender, device, max(warmup, 1))

    def _call(self) -> None:
        batch = self._batches[self._calls % len(self._batches)]
        self._calls += 1
        self.timings.append(self.pipeline.run(batch, align="false").timings.stage_seconds())

    def result(self, flops: int, peaks: dict[str, float], timed: int) -> PathResult:
        seconds, size = self.contender.seconds, self.path.batch_size
        precision = self.pipeline.precision
        result = summarise(
            self.path.name, precision, size, seconds, flops,
            peaks.get(precision, peaks["fp32"]), self.memory.peak_mib,
        )  # fmt: skip
        result.first_call_ms = self.contender.first_s * 1000
        chosen = self.pipeline.backends
        result.backends = {"parser": chosen.parser, "generators": chosen.generators}
        result.minor_faults_per_call = statistics.median(self.contender.faults)
        result.stage_ms_per_image, result.over_generators = stage_breakdown(
            self.timings[-timed:], seconds, size
        )
        return result


def print_table(report: dict[str, object], results: list[PathResult]) -> None:
    peaks = report["matmul_peak_gflops"]
    assert isinstance(peaks, dict)
    print(
        f"{report['model']} on {report['device']} ({report['threads']} threads, torch "
        f"{report['torch']}): {report['gflop_per_image']:.1f} GFLOP per image; matmul peak "
        + ", ".join(f"{k} {v:.0f} GFLOP/s" for k, v in peaks.items())
    )
    columns = (
        "batch",
        "img/s",
        "p50 ms",
        "p95 ms",
        "ms/img",
        "speedup",
        "GFLOP/s",
        "peak",
        "1st s",
        "faults",
    )
    widths = (5, 7, 8, 8, 7, 7, 8, 5, 6, 7)
    print(
        f"{'path':50} "
        + " ".join(f"{c:>{w}}" for c, w in zip(columns, widths, strict=True))
        + "    MiB"
    )
    for r in results:
        memory = f"{r.peak_memory_mib:6.0f}" if r.peak_memory_mib is not None else "     -"
        print(
            f"{r.name:50} {r.batch_size:5d} {r.images_per_s:7.2f} {r.latency_p50_ms:8.1f} "
            f"{r.latency_p95_ms:8.1f} {r.ms_per_image:7.1f} {r.speedup:6.2f}x "
            f"{r.gflops_per_s:8.1f} {r.peak_fraction:5.0%} {r.first_call_ms / 1000:6.1f} "
            f"{r.minor_faults_per_call:7.0f} {memory}"
        )
    print("\nms per image by stage (medians), and the whole call over G1 + G2:")
    for r in results:
        stages = ", ".join(f"{k} {v:.1f}" for k, v in r.stage_ms_per_image.items())
        print(f"{r.name:50} {r.batch_size:5d}  {stages}; {r.over_generators:.2f}x G1+G2")
    best = max(results, key=lambda r: r.images_per_s)
    floor = report["floor_ms_per_image"]
    assert isinstance(floor, float)
    print(
        f"best: {best.name} at batch {best.batch_size}, {best.ms_per_image:.1f} ms per image, "
        f"{best.speedup:.2f}x the baseline; the matmul-peak floor is {floor:.1f} ms per image "
        f"({best.ms_per_image / floor:.1f}x away)"
    )
    print(f"method: {report['method']}; faults: median minor page faults per call")
    peers = report.get("peers")
    if isinstance(peers, dict):
        print_peers(peers)


def print_peers(peers: dict[str, object]) -> None:
    """The --peers table: G1+G2 alone per runtime and batch size."""
    rows = peers.get("rows")
    if not isinstance(rows, list):
        print(f"peers: {peers.get('skipped')}")
        return
    print("\nG1+G2 alone (same inputs, same rounds):")
    print(
        f"{'runtime':18} {'precision':9} {'batch':>5} {'ms/img':>7} {'faults':>7} {'max diff':>9}"
    )
    for row in rows:
        print(
            f"{row['runtime']:18} {row['precision']:9} {row['batch_size']:5d} "
            f"{row['ms_per_image']:7.1f} {row['minor_faults_per_call']:7.0f} "
            f"{row['max_difference_grey_levels']:9.3f}"
        )
    if "pipeline_over_fastest_peer" in peers:
        print(
            "the default pipeline at batch 1 (parse included): median "
            f"{peers['pipeline_ms_batch1']:.1f} ms per image, "
            f"{peers['pipeline_over_fastest_peer']:.2f}x {peers['fastest_peer']}'s "
            "G1+G2 alone (median)"
        )
    if "not_measured" in peers:
        print(f"not measured: {peers['not_measured']}")


def main(argv: list[str] | None = None) -> int:
    """``python -m isegan.cli.bench ARGS``: ``isegan bench ARGS`` without importing the
    other commands (the service, signing), for a bare benchmarking machine."""
    root = argparse.ArgumentParser(prog="isegan")
    add_parser(root.add_subparsers(dest="command", required=True))
    args = root.parse_args(["bench", *(sys.argv[1:] if argv is None else argv)])
    return run(args)


if __name__ == "__main__":
    sys.exit(main())
