"""Would int8 pay? Post-training static quantisation of G1 and G2, measured against the
fp32 path the service runs on a CPU without native bf16, before it is offered.

    .venv/bin/python benchmarks/int8_trial.py --data ../shared/data/cufs \
        [--calibration 32] [--limit 0] [--rounds 7]

G1's and G2's U-Nets are quantised with ``torch.ao`` FX graph mode (the ``x86`` backend:
per-channel int8 weights, uint8 activations, observers calibrated on the inputs the
pipeline gives the U-Nets for ``--calibration`` *training* sketches). The parser,
softmax and tanh stay in fp32. Then, on the test split (``--limit`` sketches; 0 = all):

- quality against fp32: PSNR and FSIM of the int8 Y2 (and Y1) against the fp32 ones, and
  how often P_int's class agrees, pixel by pixel;
- quality against the real photo: FSIM of fp32 and int8 Y2, so a loss shows in the
  metric the project is judged by;
- speed: G1+G2 per sketch at batch 1, fp32 (folded BatchNorm, channels_last, the
  service's CPU path) and int8 interleaved in one process, median of ``--rounds``.
"""

from __future__ import annotations

import argparse
import copy
import statistics
import time
import warnings
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np
import torch
from PIL import Image
from torch import nn
from torch.ao.quantization import get_default_qconfig_mapping
from torch.ao.quantization.quantize_fx import convert_fx, prepare_fx

from isegan.model.inference_options import InferenceOptions
from isegan.model.networks.generator import MultiEncoderUNet
from isegan.model.pipeline import FacePipeline
from isegan.model.weights.pretrained import default_generator_path, default_parser_path
from isegan.training.evaluation.evaluate import greyscale
from isegan.training.evaluation.quality.fsim import fsim
from isegan.training.evaluation.quality.pixel import psnr
from isegan.training.pairs import PairFolder

Inputs = tuple[torch.Tensor, ...]


class TraceableUNet(nn.Module):
    """A two-input U-Net's unchecked forward pass, with a fixed arity ``torch.fx`` can
    trace."""

    def __init__(self, unet: MultiEncoderUNet) -> None:
        super().__init__()
        self.unet = unet

    def forward(self, first: torch.Tensor, second: torch.Tensor) -> list[torch.Tensor]:
        return self.unet.compute(first, second)


class QuantisedUNet(nn.Module):
    """Stands in for a ``MultiEncoderUNet`` inside G1 or G2: int8 inside, fp32 in and out."""

    def __init__(self, graph: nn.Module) -> None:
        super().__init__()
        self.graph = graph

    def forward(self, *inputs: torch.Tensor) -> list[torch.Tensor]:
        # The quantised graph wants contiguous NCHW tensors.
        return list(self.graph(*(x.contiguous() for x in inputs)))


def capture_unet_inputs(
    pipeline: FacePipeline, sketches: Sequence[Image.Image]
) -> dict[str, list[Inputs]]:
    """The inputs G1's and G2's U-Nets receive when the pipeline runs on ``sketches``."""
    captured: dict[str, list[Inputs]] = {"stage1": [], "stage2": []}
    hooks = []
    for name, network in pipeline.generators.networks().items():
        unet = network.unet

        def keep(_: nn.Module, inputs: Inputs, __: object, name: str = name) -> None:
            captured[name].append(tuple(x.detach().clone() for x in inputs))

        hooks.append(unet.register_forward_hook(keep))
    try:
        for sketch in sketches:
            pipeline([sketch], align="false")
    finally:
        for hook in hooks:
            hook.remove()
    return captured


def quantise(unet: MultiEncoderUNet, calibration: list[Inputs]) -> QuantisedUNet:
    """An int8 copy of ``unet``, its activation ranges observed on ``calibration``."""
    traceable = TraceableUNet(copy.deepcopy(unet)).eval()
    example = tuple(x.contiguous() for x in calibration[0])
    prepared = prepare_fx(traceable, get_default_qconfig_mapping("x86"), example)
    with torch.inference_mode():
        for inputs in calibration:
            prepared(*(x.contiguous() for x in inputs))
    return QuantisedUNet(convert_fx(prepared))


def median_ms(call: Callable[[], object], rounds: int) -> float:
    call()
    times = []
    for _ in range(rounds):
        started = time.perf_counter()
        call()
        times.append(time.perf_counter() - started)
    return statistics.median(times) * 1000


def load_sketches(folder: PairFolder, ids: Sequence[str]) -> list[Image.Image]:
    return [Image.fromarray(folder.load_pair(i)[1]) for i in ids]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", type=Path, required=True)
    parser.add_argument("--calibration", type=int, default=32, help="training sketches")
    parser.add_argument("--limit", type=int, default=0, help="test sketches (0 = all)")
    parser.add_argument("--rounds", type=int, default=7)
    args = parser.parse_args()
    # torch.ao's deprecation notices, once per call; the quantised cat's warning (its
    # inputs' scales differ, a source of error measured here) once in all.
    warnings.filterwarnings("ignore", category=DeprecationWarning, module=r"torch\.ao|__main__")
    warnings.filterwarnings("ignore", message=r"(?s).*(quant_min and quant_max|tensor creation)")
    warnings.filterwarnings("once", message=r"All inputs of this cat operator")
    generator, parser_weights = default_generator_path(), default_parser_path()
    if generator is None or parser_weights is None:
        raise SystemExit("the bundled model is not installed")
    torch.backends.quantized.engine = "x86"
    options = InferenceOptions(precision="fp32")
    fp32 = FacePipeline.from_files(generator, parser_weights, device="cpu", options=options)
    int8 = FacePipeline.from_files(generator, parser_weights, device="cpu", options=options)
    train, test = PairFolder.open(args.data, "train"), PairFolder.open(args.data, "test")
    calibration = capture_unet_inputs(fp32, load_sketches(train, train.ids[: args.calibration]))
    for name, network in int8.generators.networks().items():
        network.unet = quantise(network.unet, calibration[name])
    test_ids = test.ids[: args.limit] if args.limit else test.ids
    print(
        f"torch {torch.__version__}, {torch.get_num_threads()} threads; calibrated on "
        f"{args.calibration} training sketches; {len(test_ids)} test sketches"
    )

    rows: dict[str, list[float]] = {
        k: [] for k in ("psnr_y2", "fsim_y2", "psnr_y1", "p_int", "real_fp32", "real_int8")
    }
    for pair_id in test_ids:
        photo, sketch_array = test.load_pair(pair_id)
        sketch = Image.fromarray(sketch_array)
        reference = fp32([sketch], align="false")[0]
        quantised = int8([sketch], align="false")[0]
        ref_y2, int8_y2 = greyscale(reference.photo), greyscale(quantised.photo)
        rows["psnr_y2"].append(psnr(ref_y2, int8_y2))
        rows["fsim_y2"].append(fsim(ref_y2, int8_y2))
        rows["psnr_y1"].append(
            psnr(greyscale(reference.stage1_photo), greyscale(quantised.stage1_photo))
        )
        rows["p_int"].append(
            float(np.mean(reference.intermediate_parsing == quantised.intermediate_parsing))
        )
        real = greyscale(Image.fromarray(photo))
        rows["real_fp32"].append(fsim(real, ref_y2))
        rows["real_int8"].append(fsim(real, int8_y2))

    def summary(key: str) -> str:
        values = np.array(rows[key])
        return f"mean {values.mean():.4f}, min {values.min():.4f}"

    print("\n| int8 against fp32 | value |\n|---|---|")
    print(f"| PSNR of Y2, dB | {summary('psnr_y2')} |")
    print(f"| FSIM of Y2 | {summary('fsim_y2')} |")
    print(f"| PSNR of Y1, dB | {summary('psnr_y1')} |")
    print(f"| P_int pixels of the same class | {summary('p_int')} |")
    print(f"| FSIM of Y2 against the real photo, fp32 | {summary('real_fp32')} |")
    print(f"| FSIM of Y2 against the real photo, int8 | {summary('real_int8')} |")

    inputs = capture_unet_inputs(fp32, load_sketches(test, test_ids[:1]))
    print("\n| network | fp32 ms | int8 ms | int8 / fp32 |\n|---|---|---|---|")
    with torch.inference_mode():
        for name in ("stage1", "stage2"):
            reference_unet = fp32.generators.networks()[name].unet
            quantised_unet = int8.generators.networks()[name].unet
            given = inputs[name][0]
            fp32_ms, int8_ms = [], []
            for _ in range(2):  # interleaved, so drift hits both
                fp32_ms.append(median_ms(lambda: reference_unet(*given), args.rounds))  # noqa: B023
                int8_ms.append(median_ms(lambda: quantised_unet(*given), args.rounds))  # noqa: B023
            slow, fast = min(fp32_ms), min(int8_ms)
            print(f"| {name} U-Net | {slow:.1f} | {fast:.1f} | {fast / slow:.2f} |")


if __name__ == "__main__":
    main()
