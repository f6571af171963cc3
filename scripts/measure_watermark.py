"""How well the invisible watermark survives, what it costs, and how often it misfires.

    python scripts/measure_watermark.py --data ../shared/data/cufs [--count 50] [--out F]

Makes ``count`` photos from the CUFS test split with the bundled model, marks each with a
different record, and reads it back after each attack of issue 22 (PNG re-save, JPEG 90/
75/50, resize to 50 % and back, a 10 % crop, a screenshot-like 1.5x rescale plus JPEG 80).
Per method: detection rate (the right installation and record), bit error rate of the
32 raw bits, PSNR and the change in FSIM against the real photo, milliseconds per image.
It also reads every unmarked photo and sketch of CUFS, where any claim is a false alarm.
Methods: RivaGAN as isegan embeds it (full resolution, gain 2), at gain 1 (the network's
own strength), at half resolution, with its change computed in bf16 (where the CPU has
native bf16; fp32 elsewhere), and invisible-watermark's classical DWT-DCT (32 bits, its
own code, read with the same decoder).
Prints a Markdown table (docs/watermark.md holds one).
"""

from __future__ import annotations

import argparse
import io
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from isegan.model.pipeline import FacePipeline
from isegan.model.weights.pretrained import default_generator_path, default_parser_path
from isegan.provenance.watermark import Watermarker, payload_bits, read_payload
from isegan.training.evaluation.quality.fsim import fsim

INSTALLATION = "measure-0001"
Attack = Callable[[Image.Image], Image.Image]


def _jpeg(image: Image.Image, quality: int) -> Image.Image:
    buffer = io.BytesIO()
    image.save(buffer, "JPEG", quality=quality)  # no XMP, no C2PA: metadata stripped
    return Image.open(io.BytesIO(buffer.getvalue())).convert("RGB")


def _png(image: Image.Image) -> Image.Image:
    buffer = io.BytesIO()
    image.save(buffer, "PNG")
    return Image.open(io.BytesIO(buffer.getvalue())).convert("RGB")


def _resize_back(image: Image.Image) -> Image.Image:
    half = image.resize((image.width // 2, image.height // 2), Image.Resampling.BICUBIC)
    return half.resize(image.size, Image.Resampling.BICUBIC)


def _crop(image: Image.Image) -> Image.Image:
    """A 10 % crop: 5 % off every side."""
    dx, dy = round(image.width * 0.05), round(image.height * 0.05)
    return image.crop((dx, dy, image.width - dx, image.height - dy))


def _screenshot(image: Image.Image) -> Image.Image:
    size = (round(image.width * 1.5), round(image.height * 1.5))
    return _jpeg(image.resize(size, Image.Resampling.BILINEAR), 80)


ATTACKS: dict[str, Attack] = {
    "none": lambda image: image,
    "PNG re-save": _png,
    "JPEG 90": lambda image: _jpeg(image, 90),
    "JPEG 75": lambda image: _jpeg(image, 75),
    "JPEG 50": lambda image: _jpeg(image, 50),
    "resize 50 % and back": _resize_back,
    "10 % crop": _crop,
    "screenshot (1.5x + JPEG 80)": _screenshot,
}


def _grey(image: Image.Image) -> np.ndarray:
    return np.asarray(image.convert("L"), np.float64)


def _psnr(a: Image.Image, b: Image.Image) -> float:
    error = np.mean((np.asarray(a, np.float64) - np.asarray(b, np.float64)) ** 2)
    return float(10 * np.log10(255**2 / max(error, 1e-12)))


class DwtDct:
    """invisible-watermark's classical method, for comparison (hard bits only)."""

    def __init__(self) -> None:
        from imwatermark.maxDct import EmbedMaxDct

        self.method = EmbedMaxDct

    def embed(self, photo: Image.Image, installation: str, record: int) -> Image.Image:
        bits = payload_bits(installation, record)
        bgr = np.ascontiguousarray(np.asarray(photo.convert("RGB"))[:, :, ::-1])
        marked = self.method(bits, wmLen=len(bits), scales=[0, 36, 36]).encode(bgr)
        return Image.fromarray(np.ascontiguousarray(marked[:, :, ::-1]).astype(np.uint8))

    def scores(self, image: Image.Image) -> np.ndarray:
        bgr = np.ascontiguousarray(np.asarray(image.convert("RGB"))[:, :, ::-1])
        bits = self.method([], wmLen=32, scales=[0, 36, 36]).decode(bgr)
        return np.where(np.asarray(bits, bool), 10.0, -10.0)  # hard bits as sure scores


def measure(method: Watermarker | DwtDct, photos: list[Image.Image], reals: list[Image.Image],
            unmarked: list[Image.Image]) -> dict[str, object]:  # fmt: skip
    detected = {name: 0 for name in ATTACKS}
    errors: dict[str, list[float]] = {name: [] for name in ATTACKS}
    strength: dict[str, list[float]] = {name: [] for name in ATTACKS}
    psnr, fsim_change, embed_ms, read_ms = [], [], [], []
    for record, (photo, real) in enumerate(zip(photos, reals, strict=True), start=1):
        started = time.perf_counter()
        marked = method.embed(photo, INSTALLATION, record)
        embed_ms.append((time.perf_counter() - started) * 1000)
        psnr.append(_psnr(photo, marked))
        fsim_change.append(fsim(_grey(real), _grey(marked)) - fsim(_grey(real), _grey(photo)))
        expected = np.asarray(payload_bits(INSTALLATION, record))
        for name, attack in ATTACKS.items():
            started = time.perf_counter()
            scores = method.scores(attack(marked))
            reading = read_payload(scores, [INSTALLATION])
            read_ms.append((time.perf_counter() - started) * 1000)
            errors[name].append(float(np.mean((scores > 0).astype(int) != expected)))
            strength[name].append(float(np.abs(scores).mean()))
            detected[name] += reading is not None and reading.record == record
    unmarked_scores = [method.scores(image) for image in unmarked]
    false_alarms = sum(read_payload(s, [INSTALLATION]) is not None for s in unmarked_scores)
    unmarked_strength = [float(np.abs(s).mean()) for s in unmarked_scores]
    count = len(photos)
    return {
        "detection": {name: hits / count for name, hits in detected.items()},
        "ber": {name: statistics.mean(values) for name, values in errors.items()},
        "psnr": statistics.mean(psnr),
        "fsim_change": statistics.mean(fsim_change),
        "fsim_change_worst": min(fsim_change),
        "embed_ms": statistics.median(embed_ms),
        "read_ms": statistics.median(read_ms),
        "false_alarms": f"{false_alarms}/{len(unmarked)}",
        "unmarked_strength_max": max(unmarked_strength),
        "unmarked_strength_p99": float(np.percentile(unmarked_strength, 99)),
        "marked_strength_min": {name: min(values) for name, values in strength.items()},
    }


def table(results: dict[str, dict[str, object]]) -> str:
    names = list(results)
    lines = [
        "| | " + " | ".join(names) + " |",
        "|---|" + "---|" * len(names),
    ]
    for attack in ATTACKS:
        cells = []
        for name in names:
            detection = results[name]["detection"]
            ber = results[name]["ber"]
            assert isinstance(detection, dict) and isinstance(ber, dict)
            cells.append(f"{detection[attack]:.0%} ({ber[attack]:.3f})")
        lines.append(f"| {attack}: detected (bit error rate) | " + " | ".join(cells) + " |")
    for key, label, fmt in (
        ("psnr", "PSNR against the unmarked photo (dB)", "{:.1f}"),
        ("fsim_change", "FSIM change against the real photo, mean", "{:+.4f}"),
        ("fsim_change_worst", "FSIM change, worst photo", "{:+.4f}"),
        ("embed_ms", "embed, ms per photo (median)", "{:.0f}"),
        ("read_ms", "read, ms per image (median)", "{:.0f}"),
        ("false_alarms", "claims on unmarked CUFS photos and sketches", "{}"),
        ("unmarked_strength_p99", "strength of unmarked images, 99th percentile", "{:.2f}"),
        ("unmarked_strength_max", "strength of unmarked images, largest", "{:.2f}"),
    ):
        lines.append(
            f"| {label} | " + " | ".join(fmt.format(results[n][key]) for n in names) + " |"
        )
    lines.append("")
    for name in names:
        weakest = results[name]["marked_strength_min"]
        assert isinstance(weakest, dict)
        shown = ", ".join(f"{attack} {value:.2f}" for attack, value in weakest.items())
        lines.append(f"Weakest marked strength, {name}: {shown}.")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, required=True, help="CUFS folder")
    parser.add_argument("--count", type=int, default=50)
    parser.add_argument(
        "--methods", default="rivagan (default: gain 2),rivagan gain 1,rivagan half-res,dwt-dct"
    )
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--out", type=Path, help="also write the table here")
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    names = (args.data / "test.txt").read_text().split()[: args.count]
    sketches = [Image.open(args.data / "sketches" / f"{n}.png").convert("RGB") for n in names]
    reals = [Image.open(args.data / "photos" / f"{n}.png").convert("RGB") for n in names]
    generator, face_parser = default_generator_path(), default_parser_path()
    assert generator is not None and face_parser is not None
    pipeline = FacePipeline.from_files(generator, face_parser)
    photos = [r.photo for r in pipeline(sketches, align="false")]
    unmarked = [Image.open(p).convert("RGB") for p in sorted((args.data / "photos").glob("*"))]
    unmarked += [Image.open(p).convert("RGB") for p in sorted((args.data / "sketches").glob("*"))]
    unmarked += photos
    methods: dict[str, Callable[[], Watermarker | DwtDct]] = {
        "rivagan (default: gain 2)": Watermarker.load,
        "rivagan gain 1": lambda: Watermarker.load(gain=1.0),
        "rivagan half-res": lambda: Watermarker.load(scale=0.5),
        "rivagan bf16": lambda: Watermarker.load(precision="bf16"),
        "dwt-dct": DwtDct,
    }
    results = {}
    for name in args.methods.split(","):
        results[name] = measure(methods[name](), photos, reals, unmarked)
        print(f"{name}: done", file=sys.stderr)
    text = table(results)
    print(text)
    if args.out:
        args.out.write_text(text + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
