"""RivaGAN's watermark encoder and decoder (Zhang et al. 2019) as torch modules.

The weights are the ONNX files that PyPI's ``invisible-watermark`` (MIT) ships in its
wheel. Its own code runs them with ONNX Runtime as 3-D convolutions over one-frame
"videos", about 450 ms per 200x250 photo on two CPU cores; here the same layers are 2-D
convolutions in torch (the frame axis has length 1), which is several times faster and
runs in the service's process and precision. ``tests/provenance/test_rivagan.py`` checks
them against ONNX Runtime on the original files.

Both networks see an RGB image scaled to [-1, 1]. The encoder adds at most 0.016 (about
2 grey levels) per pixel, shaped by an attention map over the 32 message bits; the
decoder averages attention-weighted features over the image into 32 scores, positive for
a 1 bit. Averaging over the whole image is why a crop or a rescale leaves the message
readable.
"""

from __future__ import annotations

import importlib.util
import struct
from pathlib import Path

import numpy as np
import torch
from torch import nn

from isegan.provenance.fft_conv import use_fft_convolutions

MESSAGE_BITS = 32
#: Largest change the encoder makes, in the [-1, 1] image scale.
LINF_MAX = 0.016
KERNEL = 11
_PACKAGE = "imwatermark"
ENCODER_FILE, DECODER_FILE = "rivagan_encoder.onnx", "rivagan_decoder.onnx"
INSTALL_HINT = "pip install invisible-watermark"


class RivaganUnavailableError(RuntimeError):
    """The ONNX files of invisible-watermark are not installed."""


def locate_rivagan() -> Path:
    """The folder of the installed ``imwatermark`` package, which holds both files."""
    spec = importlib.util.find_spec(_PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        raise RivaganUnavailableError(f"RivaGAN weights not installed: {INSTALL_HINT}")
    folder = Path(next(iter(spec.submodule_search_locations)))
    if not (folder / ENCODER_FILE).is_file() or not (folder / DECODER_FILE).is_file():
        raise RivaganUnavailableError(f"RivaGAN weights missing in {folder}: {INSTALL_HINT}")
    return folder


# -- reading ONNX initialisers without the onnx package (which pins protobuf) -----------
def _varint(data: bytes, position: int) -> tuple[int, int]:
    value = shift = 0
    while True:
        byte = data[position]
        position += 1
        value |= (byte & 0x7F) << shift
        shift += 7
        if byte < 0x80:
            return value, position


def _fields(data: bytes) -> list[tuple[int, int, int | bytes]]:
    """(field number, wire type, value) of one protobuf message, in order."""
    fields: list[tuple[int, int, int | bytes]] = []
    position = 0
    while position < len(data):
        key, position = _varint(data, position)
        number, wire = key >> 3, key & 7
        value: int | bytes
        if wire == 0:
            value, position = _varint(data, position)
        elif wire == 1:
            value, position = data[position : position + 8], position + 8
        elif wire == 2:
            length, position = _varint(data, position)
            value, position = data[position : position + length], position + length
        elif wire == 5:
            value, position = data[position : position + 4], position + 4
        else:
            raise ValueError(f"unsupported protobuf wire type {wire}")
        fields.append((number, wire, value))
    return fields


_FLOAT32 = 1  # TensorProto.DataType.FLOAT


def _tensor(message: bytes) -> tuple[str, np.ndarray | None]:
    """A TensorProto's name and, for float32 tensors, its values."""
    dims: list[int] = []
    name, raw, data_type = "", b"", 0
    floats: list[float] = []
    for number, wire, value in _fields(message):
        if number == 1:  # dims: packed or one varint each
            if isinstance(value, bytes):
                position = 0
                while position < len(value):
                    dim, position = _varint(value, position)
                    dims.append(dim)
            else:
                dims.append(value)
        elif number == 2 and isinstance(value, int):
            data_type = value
        elif number == 4 and isinstance(value, bytes):  # float_data
            floats.extend(struct.unpack(f"<{len(value) // 4}f", value) if wire == 2 else [])
        elif number == 8 and isinstance(value, bytes):
            name = value.decode()
        elif number == 9 and isinstance(value, bytes):
            raw = value
    if data_type != _FLOAT32:
        return name, None
    array = np.frombuffer(raw, "<f4") if raw else np.asarray(floats, np.float32)
    return name, array.reshape(dims).copy()


def read_onnx_weights(path: Path) -> dict[str, torch.Tensor]:
    """The float32 initialisers of an ONNX model (graph = field 7, initializer = 5)."""
    model = path.read_bytes()
    graphs = [v for n, _, v in _fields(model) if n == 7 and isinstance(v, bytes)]
    if not graphs:
        raise ValueError(f"{path} holds no ONNX graph")
    weights: dict[str, torch.Tensor] = {}
    for number, _, value in _fields(graphs[0]):
        if number == 5 and isinstance(value, bytes):
            name, array = _tensor(value)
            if array is not None:
                weights[name] = torch.from_numpy(array)
    return weights


# -- the networks ----------------------------------------------------------------------
def _conv(in_channels: int, out_channels: int) -> nn.Conv2d:
    return nn.Conv2d(in_channels, out_channels, KERNEL, padding=KERNEL // 2)


def _tanh_bn_conv(in_channels: int, width: int, out_channels: int) -> nn.Sequential:
    """conv, tanh, BatchNorm, conv: the shape of every RivaGAN branch (indices 0, 2, 3
    match the ONNX parameter names)."""
    return nn.Sequential(
        _conv(in_channels, width), nn.Tanh(), nn.BatchNorm2d(width), _conv(width, out_channels)
    )


class _Attention(nn.Module):
    """Where in the image each of the 32 bits goes: a softmax over the bits per pixel."""

    def __init__(self) -> None:
        super().__init__()
        self.layers = _tanh_bn_conv(3, 32, MESSAGE_BITS)
        self.tanh = nn.Tanh()
        self.norm = nn.BatchNorm2d(MESSAGE_BITS)

    def forward(self, image: torch.Tensor) -> torch.Tensor:
        return torch.softmax(self.norm(self.tanh(self.layers(image))), dim=1)


class RivaganEncoder(nn.Module):
    """``image + 0.016 * tanh(conv(image, sum_b attention_b * (2 m_b - 1)))``."""

    def __init__(self) -> None:
        super().__init__()
        self.attention = _Attention()
        self.residual = _tanh_bn_conv(4, 32, 3)

    def forward(self, image: torch.Tensor, message: torch.Tensor) -> torch.Tensor:
        return image + self.change(image, message)

    def change(self, image: torch.Tensor, message: torch.Tensor) -> torch.Tensor:
        """What the encoder adds to ``image`` (at most ``LINF_MAX`` per pixel). Kept apart
        from the sum so that a lower precision only touches the small change, never the
        image it is added to."""
        signs = (message * 2 - 1)[:, :, None, None]
        layout = (self.attention(image) * signs).sum(dim=1, keepdim=True)
        return LINF_MAX * torch.tanh(self.residual(torch.cat([image, layout], dim=1)))


class RivaganDecoder(nn.Module):
    """32 scores: attention-weighted features averaged over the image."""

    def __init__(self) -> None:
        super().__init__()
        self.attention = _Attention()
        self.features = _tanh_bn_conv(3, 32, MESSAGE_BITS)

    def forward(self, image: torch.Tensor) -> torch.Tensor:
        weighted: torch.Tensor = self.features(image) * self.attention(image)
        return weighted.flatten(2).mean(dim=2)


def _load(network: nn.Module, weights: dict[str, torch.Tensor], path: Path) -> None:
    """Map ONNX names (``_attention.0.weight``, ``_conv.3.bias`` ...) onto the modules:
    3-D kernels of depth 1 become 2-D ones."""
    state: dict[str, torch.Tensor] = {}
    branch = "residual" if isinstance(network, RivaganEncoder) else "features"
    for name, value in weights.items():
        prefix, index, field = name.lstrip("_").split(".")
        if value.dim() == 5:
            value = value[:, :, 0]
        if prefix == "attention" and index == "5":
            key = f"attention.norm.{field}"
        elif prefix == "attention":
            key = f"attention.layers.{index}.{field}"
        else:
            key = f"{branch}.{index}.{field}"
        state[key] = value
    missing, unexpected = network.load_state_dict(state, strict=False)
    missing = [k for k in missing if not k.endswith("num_batches_tracked")]
    if missing or unexpected:
        raise ValueError(f"{path}: missing {missing}, unexpected {unexpected}")


def load_rivagan(
    folder: Path | None = None, *, fft: bool = True
) -> tuple[RivaganEncoder, RivaganDecoder]:
    """Both networks, in eval mode, from invisible-watermark's files (or ``folder``).
    With ``fft`` (the default) their 11x11 convolutions run by FFT (``fft_conv.py``):
    the same result up to float rounding, at several times less cost."""
    folder = folder or locate_rivagan()
    encoder, decoder = RivaganEncoder(), RivaganDecoder()
    for network, file in ((encoder, ENCODER_FILE), (decoder, DECODER_FILE)):
        path = folder / file
        _load(network, {k: v for k, v in read_onnx_weights(path).items() if "." in k}, path)
        network.eval().requires_grad_(False)
        if fft:
            use_fft_convolutions(network)
    return encoder, decoder
