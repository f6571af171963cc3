"""What the service's render step costs per photo: the watermark's layers direct and by
FFT, the whole watermark, and PNG encoding at each zlib level, in one process.

    .venv/bin/python benchmarks/render_cost.py --data ../shared/data/cufs [--rounds 7]

Times are medians over ``--rounds`` calls after one warm-up, on real CUFS test photos
(200x250). The pixel check compares the FFT watermark with RivaGAN run directly.
"""

from __future__ import annotations

import argparse
import io
import statistics
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch
from PIL import Image
from torch import nn

from isegan.provenance.fft_conv import FFTConv2d
from isegan.provenance.rivagan import load_rivagan
from isegan.provenance.watermark import Watermarker, _to_tensor


def median_ms(call: Callable[[], object], rounds: int) -> float:
    call()
    times = []
    for _ in range(rounds):
        started = time.perf_counter()
        call()
        times.append(time.perf_counter() - started)
    return statistics.median(times) * 1000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", type=Path, required=True)
    parser.add_argument("--rounds", type=int, default=7)
    args = parser.parse_args()
    ids = (args.data / "test.txt").read_text().split()[:6]
    photos = [Image.open(args.data / "photos" / f"{i}.png").convert("RGB") for i in ids]
    rounds = args.rounds
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, photo 200x250")

    print("\n| layer | direct NCHW ms | direct channels_last ms | FFT ms |")
    print("|---|---|---|---|")
    torch.manual_seed(0)
    with torch.inference_mode():
        for inputs, outputs in ((3, 32), (4, 32), (32, 32), (32, 3)):
            conv = nn.Conv2d(inputs, outputs, 11, padding=5)
            image = torch.randn(1, inputs, 250, 200)
            fft = FFTConv2d(conv)
            nchw = median_ms(lambda: conv(image), rounds)  # noqa: B023 - called at once
            conv_cl = nn.Conv2d(inputs, outputs, 11, padding=5).to(
                memory_format=torch.channels_last
            )
            image_cl = image.to(memory_format=torch.channels_last)
            channels_last = median_ms(lambda: conv_cl(image_cl), rounds)  # noqa: B023
            by_fft = median_ms(lambda: fft(image), rounds)  # noqa: B023
            print(f"| {inputs}→{outputs} | {nchw:.1f} | {channels_last:.1f} | {by_fft:.1f} |")

        direct_encoder, direct_decoder = load_rivagan(fft=False)
        fft_encoder, fft_decoder = load_rivagan(fft=True)
        tensor, message = _to_tensor(photos[0]), torch.ones(1, 32)
        print("\n| network | direct NCHW ms | as used (FFT where it pays) ms |")
        print("|---|---|---|")
        for name, direct, fast, call in (
            ("encoder", direct_encoder, fft_encoder, lambda n: n(tensor, message)),
            ("decoder", direct_decoder, fft_decoder, lambda n: n(tensor)),
        ):
            slow_ms = median_ms(lambda: call(direct), rounds)  # noqa: B023
            fast_ms = median_ms(lambda: call(fast), rounds)  # noqa: B023
            print(f"| {name} | {slow_ms:.1f} | {fast_ms:.1f} |")

    fast_marker, direct_marker = Watermarker.load(), Watermarker.load(fft=False)
    embed_ms = median_ms(lambda: fast_marker.embed(photos[0], "bench", 7), rounds)
    bf16_marker = Watermarker.load(precision="bf16")
    if bf16_marker.precision == "bf16":
        bf16_ms = median_ms(lambda: bf16_marker.embed(photos[0], "bench", 7), rounds)
        print(f"\nWatermarker.embed in bf16 (native here): {bf16_ms:.1f} ms per photo")
    else:
        print("\nWatermarker.embed in bf16: not measured, this CPU has no native bf16")
    changed, largest = [], 0
    for record, photo in enumerate(photos):
        a = np.asarray(fast_marker.embed(photo, "bench", record), np.int16)
        b = np.asarray(direct_marker.embed(photo, "bench", record), np.int16)
        changed.append(float((a != b).mean()))
        largest = max(largest, int(np.abs(a - b).max()))
    print(
        f"\nWatermarker.embed (as used): {embed_ms:.1f} ms per photo; against the direct "
        f"path on {len(photos)} photos: at most {largest} grey level(s), in at most "
        f"{max(changed) * 100_000:.1f} pixels per 100,000"
    )

    print("\n| PNG zlib level | ms per photo | bytes |")
    print("|---|---|---|")
    for level in (0, 1, 3, 6, 9):

        def encode(level: int = level) -> bytes:
            buffer = io.BytesIO()
            photos[0].save(buffer, format="PNG", compress_level=level)
            return buffer.getvalue()

        print(f"| {level} | {median_ms(encode, rounds):.1f} | {len(encode())} |")


if __name__ == "__main__":
    main()
