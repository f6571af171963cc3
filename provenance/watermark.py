"""An invisible watermark in every output photo: which installation made it, and its record.

RivaGAN (``rivagan.py``) carries 32 bits in the pixels, readable after JPEG, resizing and
cropping. Here they hold a payload that names a record of one installation:

- bits 0-19: the record number modulo 2**20 (``isegan audit find --record`` resolves it);
- bits 20-31: a check, the first 12 bits of SHA-256 over the installation id and the
  record. Only an image marked by that installation passes it;
- all 32 XORed with a fixed pseudo-random mask, so the message is balanced.

Whether a watermark is there at all is told by the decoder's mean score magnitude (the
*strength*): at least ``MIN_STRENGTH``, which no unmarked CUFS photo or sketch reaches
while marked photos do after JPEG 75 and the other attacks (docs/watermark.md, from
``scripts/measure_watermark.py``). What it says is then read against each installation
the verifier knows (its own, and any it was given): the hard bits, and every way of
flipping up to three of the eight least certain bits (Chase decoding), keeping the
pattern that passes the check at the least cost in flipped score. The reading says how
many bits it flipped. The 12 check bits alone would accept about one random pattern in
45 of these; the strength is what keeps unmarked images out.

The encoder runs at the photo's own resolution (``EMBED_SCALE`` 1) and its change is
applied twice over (``EMBED_GAIN``), which keeps the record readable after JPEG 50 for
about 0.001 of FSIM. At half resolution it would cost four times less, but loses bits
even before any attack (docs/watermark.md compares them).

Embedding may compute the encoder's change in bf16 where the device has native bf16
(``precision``): only the change, at most 4 grey levels, is rounded to bf16's 8 bits, and
the sum with the photo stays fp32. Reading always runs in fp32, since ``MIN_STRENGTH`` was
set on fp32 scores.

Both networks run on the device they are loaded on (``device``): the service puts them on
its model's device, so that on a GPU host the watermark does not take the CPU's time
between batches. On the CPU the wide layers run by FFT; on CUDA every layer runs directly
(cuDNN), the reference the FFT path is tested against.
"""

from __future__ import annotations

import hashlib
import itertools
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Literal, Protocol, TypeVar, get_args

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image

from isegan.model.inference_options import resolve_precision
from isegan.provenance.fft_conv import use_fft_convolutions
from isegan.provenance.installation import WATERMARK_RECORD_BITS, watermark_record
from isegan.provenance.rivagan import (
    MESSAGE_BITS,
    RivaganDecoder,
    RivaganEncoder,
    load_rivagan,
)

RECORD_BITS = WATERMARK_RECORD_BITS
CHECK_BITS = MESSAGE_BITS - RECORD_BITS
PAYLOAD_VERSION = "isegan-watermark/1"
#: Mean |score| below which no claim is made: above every unmarked CUFS photo and
#: sketch (largest 4.2), below every marked photo after JPEG 50 (docs/watermark.md).
MIN_STRENGTH = 4.5
#: The encoder and decoder see the photo at this scale.
EMBED_SCALE = 1.0
#: The encoder's change is applied this many times over: at most 0.032 of the range (4
#: grey levels); FSIM against the real photo moves by about 0.001 (docs/watermark.md).
EMBED_GAIN = 2.0
#: "auto": bf16 where the CPU computes it natively, else fp32.
WatermarkPrecision = Literal["auto", "fp32", "bf16"]
WATERMARK_PRECISIONS: tuple[str, ...] = get_args(WatermarkPrecision)
#: Reading may flip up to MAX_FLIPS of the CANDIDATE_BITS least certain bits.
MAX_FLIPS = 3
CANDIDATE_BITS = 8


@dataclass(frozen=True)
class WatermarkReading:
    installation: str
    record: int  # modulo 2**RECORD_BITS
    flipped_bits: int  # how many uncertain bits the reading had to flip
    strength: float  # mean |score|

    def describe(self) -> str:
        return (
            f"watermark: synthetic, isegan installation {self.installation}, record {self.record}"
        )

    def as_dict(self) -> dict[str, object]:
        return {
            "synthetic": True,
            "installation": self.installation,
            "record": self.record,
            "flipped_bits": self.flipped_bits,
            "strength": round(self.strength, 2),
        }


def _mask() -> list[int]:
    """A fixed pseudo-random pattern XORed onto the payload: RivaGAN reads a message with
    as many ones as zeros far better than a small record's long run of zeros."""
    digest = hashlib.sha256(f"{PAYLOAD_VERSION}:mask".encode()).digest()
    value = int.from_bytes(digest[:4], "big")
    return [(value >> (MESSAGE_BITS - 1 - i)) & 1 for i in range(MESSAGE_BITS)]


MASK = _mask()


def _check_bits(installation: str, record: int) -> list[int]:
    digest = hashlib.sha256(f"{PAYLOAD_VERSION}:{installation}:{record}".encode()).digest()
    value = int.from_bytes(digest[:2], "big") >> (16 - CHECK_BITS)
    return [(value >> (CHECK_BITS - 1 - i)) & 1 for i in range(CHECK_BITS)]


def payload_bits(installation: str, record: int) -> list[int]:
    """The 32 bits for one record of one installation."""
    record = watermark_record(record)
    bits = [(record >> (RECORD_BITS - 1 - i)) & 1 for i in range(RECORD_BITS)]
    return [b ^ m for b, m in zip(bits + _check_bits(installation, record), MASK, strict=True)]


def read_payload(scores: np.ndarray, installations: Iterable[str]) -> WatermarkReading | None:
    """Decode 32 scores (positive = 1) against the installations the reader knows."""
    strength = float(np.abs(scores).mean())
    if strength < MIN_STRENGTH:
        return None
    hard = (scores > 0).astype(int) ^ np.asarray(MASK)
    weakest = np.argsort(np.abs(scores))[:CANDIDATE_BITS]
    candidates = list(installations)
    best: tuple[float, WatermarkReading] | None = None
    for flips in range(MAX_FLIPS + 1):
        for chosen in itertools.combinations(weakest, flips):
            bits = hard.copy()
            bits[list(chosen)] ^= 1
            record = int("".join(map(str, bits[:RECORD_BITS])), 2)
            cost = float(np.abs(scores[list(chosen)]).sum())
            for installation in candidates:
                passes = list(bits[RECORD_BITS:]) == _check_bits(installation, record)
                if passes and (best is None or cost < best[0]):
                    best = (cost, WatermarkReading(installation, record, flips, strength))
    return best[1] if best is not None else None


def resolve_watermark_precision(
    precision: WatermarkPrecision, device: torch.device | None = None
) -> Literal["fp32", "bf16"]:
    """The pipeline's rule on the watermark's device (the CPU unless given): 'auto' ->
    bf16 where the device computes it natively, and an explicit bf16 without it falls
    back to fp32 with a warning (emulated bf16 is many times slower). Where the rule would
    pick fp16 (a GPU older than Ampere) the watermark stays fp32: its robustness was
    measured in fp32 and bf16 only."""
    resolved = resolve_precision(precision, device or torch.device("cpu"))
    return "bf16" if resolved == "bf16" else "fp32"


def _to_tensor(image: Image.Image) -> torch.Tensor:
    """[-1, 1], channels in BGR order: the order RivaGAN's weights were used with."""
    array = np.asarray(image.convert("RGB"), np.float32)[:, :, ::-1].copy()
    return torch.from_numpy(array).permute(2, 0, 1)[None] / 127.5 - 1


def _resize(tensor: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
    return F.interpolate(tensor, size=size, mode="bilinear", antialias=True, align_corners=False)


T = TypeVar("T")


class Runner(Protocol):
    """Computes a task somewhere and returns its result."""

    def __call__(self, task: Callable[[], T], /) -> T: ...


def _here(task: Callable[[], T]) -> T:
    return task()


class Watermarker:
    """Embeds and reads the payload; loads RivaGAN once; thread-safe."""

    def __init__(
        self,
        encoder: RivaganEncoder,
        decoder: RivaganDecoder,
        scale: float = EMBED_SCALE,
        gain: float = EMBED_GAIN,
        *,
        precision: Literal["fp32", "bf16"] = "fp32",
    ) -> None:
        self.encoder, self.decoder = encoder, decoder
        self.scale, self.gain = scale, gain
        self.precision = precision
        self.device = next(encoder.parameters()).device
        self._lock = threading.Lock()
        #: Where the torch work is computed: here by default; the service gives its
        #: worker's ``run``, so that one thread does all of its torch work.
        self.runner: Runner = _here

    @classmethod
    def load(
        cls,
        scale: float = EMBED_SCALE,
        gain: float = EMBED_GAIN,
        *,
        fft: bool = True,
        precision: WatermarkPrecision = "fp32",
        device: torch.device | str = "cpu",
    ) -> Watermarker:
        """RivaGAN from invisible-watermark's files, on ``device``. On the CPU,
        ``fft=False`` runs its convolutions directly (the reference the FFT path is tested
        against), and in bf16 the encoder's convolutions run directly (oneDNN), since the
        FFT path computes in fp32. On CUDA they always run directly (cuDNN)."""
        target = torch.device(device)
        resolved = resolve_watermark_precision(precision, target)
        encoder, decoder = load_rivagan(fft=False)
        if fft and target.type == "cpu":
            use_fft_convolutions(decoder)
            if resolved == "fp32":
                use_fft_convolutions(encoder)
        encoder.to(target)
        decoder.to(target)
        return cls(encoder, decoder, scale=scale, gain=gain, precision=resolved)

    def embed(self, photo: Image.Image, installation: str, record: int) -> Image.Image:
        """The photo with the payload in its pixels (RGB, same size)."""
        return self.runner(lambda: self._embed(photo, installation, record))

    @torch.inference_mode()
    def _embed(self, photo: Image.Image, installation: str, record: int) -> Image.Image:
        full = _to_tensor(photo).to(self.device)
        height, width = full.shape[-2:]
        small = _resize(full, (round(height * self.scale), round(width * self.scale)))
        bits = [payload_bits(installation, record)]
        message = torch.tensor(bits, dtype=torch.float32, device=self.device)
        in_bf16 = torch.autocast(self.device.type, torch.bfloat16, self.precision == "bf16")
        with self._lock, in_bf16:
            change = self.encoder.change(small, message).float()
        marked = full + self.gain * _resize(change, (height, width))
        pixels = ((marked[0].permute(1, 2, 0) + 1) * 127.5).round().clamp(0, 255)
        array = pixels.to(torch.uint8).cpu().numpy()
        return Image.fromarray(array[:, :, ::-1].copy(), "RGB")

    def scores(self, image: Image.Image) -> np.ndarray:
        """The decoder's 32 scores, read at the embedding scale of a 200x250 photo (a
        larger image, such as a screenshot, is first brought to that size)."""
        return self.runner(lambda: self._scores(image))

    @torch.inference_mode()
    def _scores(self, image: Image.Image) -> np.ndarray:
        tensor = _to_tensor(image).to(self.device)
        height, width = tensor.shape[-2:]
        side = max(1.0, (height * width / (250 * 200)) ** 0.5 / self.scale)
        small = _resize(tensor, (max(16, round(height / side)), max(16, round(width / side))))
        with self._lock:
            scores: np.ndarray = self.decoder(small)[0].float().cpu().numpy()
        return scores

    def read(self, image: Image.Image, installations: Iterable[str]) -> WatermarkReading | None:
        return read_payload(self.scores(image), installations)
