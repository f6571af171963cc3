"""A reader for dlib's binary serialisation, enough to load its face-recognition ResNet.

dlib writes a network by nesting: each layer writes a version number, then the whole
network below it, then its own parameters. A file therefore holds the outermost
layers' version numbers first, then the input layer, then the layers' parameters from
the input outwards. The reader follows the layer list it is given (outermost first) and
checks every version and type name on the way, so a file for another network, a
truncated file or a foreign file stops with a message saying where and what.

Primitives as dlib's ``serialize.h`` writes them: integers as a control byte (size in
the low nibble, sign in bit 7) and that many little-endian bytes; floats as an integer
mantissa and exponent; booleans as the ASCII characters '0'/'1'; strings as a length
and the bytes; tensors (``dlib/cuda/tensor.h``) as a version, four dimensions and
little-endian float32 values.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Literal

import numpy as np

from isegan.model.errors import WeightsError

# float_details' exponents that stand for special values.
_EXPONENT_INF, _EXPONENT_NINF, _EXPONENT_NAN = 32000, 32001, 32002


class DlibFormatError(WeightsError):
    """The bytes are not the dlib serialisation that was expected."""


class DlibStream:
    """Sequential reader of dlib primitives over an in-memory file."""

    def __init__(self, data: bytes, source: str) -> None:
        self._data = memoryview(data)
        self.position = 0
        self.source = source

    def fail(self, message: str) -> DlibFormatError:
        return DlibFormatError(f"{self.source}: {message} (at byte {self.position})")

    def _take(self, count: int) -> memoryview:
        end = self.position + count
        if end > len(self._data):
            raise self.fail(
                f"the file ends after {len(self._data)} bytes; it is truncated "
                f"(needed {count} more bytes)"
            )
        chunk = self._data[self.position : end]
        self.position = end
        return chunk

    def at_end(self) -> bool:
        return self.position >= len(self._data)

    def integer(self) -> int:
        control = self._take(1)[0]
        size = control & 0x0F
        if size == 0 or size > 8 or control & 0x70:
            raise self.fail(f"byte 0x{control:02x} does not start a dlib integer")
        value = int.from_bytes(self._take(size), "little")
        return -value if control & 0x80 else value

    def unsigned(self) -> int:
        value = self.integer()
        if value < 0:
            raise self.fail(f"expected a non-negative integer, found {value}")
        return value

    def real(self) -> float:
        if self.position < len(self._data) and self._data[self.position] & 0x70:
            raise self.fail("floats in dlib's old text format are not supported")
        mantissa, exponent = self.integer(), self.integer()
        if exponent == _EXPONENT_INF:
            return math.inf
        if exponent == _EXPONENT_NINF:
            return -math.inf
        if exponent == _EXPONENT_NAN:
            return math.nan
        return math.ldexp(float(mantissa), exponent)

    def boolean(self) -> bool:
        value = self._take(1)[0]
        if value not in (ord("0"), ord("1")):
            raise self.fail(f"byte 0x{value:02x} is not a dlib bool ('0' or '1')")
        return value == ord("1")

    def string(self, max_length: int = 256) -> str:
        length = self.unsigned()
        if length > max_length:
            raise self.fail(f"a {length}-byte name is longer than any dlib type name")
        raw = bytes(self._take(length))
        try:
            return raw.decode("ascii")
        except UnicodeDecodeError:
            raise self.fail(f"{raw[:20]!r} is not a dlib type name") from None

    def expect_name(self, *allowed: str) -> str:
        name = self.string()
        if name not in allowed:
            raise self.fail(
                f"found {name!r} where dlib's {' or '.join(map(repr, allowed))} was expected"
            )
        return name

    def expect_version(self, what: str, allowed: tuple[int, ...]) -> int:
        version = self.integer()
        if version not in allowed:
            raise self.fail(f"unexpected {what} version {version} (expected one of {allowed})")
        return version

    def tensor(self) -> np.ndarray:
        self.expect_version("tensor", (2,))
        shape = tuple(self.unsigned() for _ in range(4))
        count = int(np.prod(shape, dtype=np.int64))
        values = np.frombuffer(self._take(4 * count), dtype="<f4")
        return values.reshape(shape).astype(np.float32)

    def alias_shape(self) -> tuple[int, int, int, int]:
        self.expect_version("alias_tensor", (1,))
        n, k, rows, cols = (self.unsigned() for _ in range(4))
        return n, k, rows, cols


LayerKind = Literal[
    "con", "affine", "relu", "max_pool", "avg_pool", "add_prev", "fc", "tag", "skip"
]


@dataclass(frozen=True)
class LayerSpec:
    """One layer of a dlib network as its C++ type names it (template arguments kept)."""

    kind: LayerKind
    name: str  # this layer's name in the torch module ("" for tags and skips)
    filters: int = 0
    size: int = 0
    stride: int = 1


@dataclass
class LayerParameters:
    """What one layer's parameters hold after reading, in torch conventions."""

    spec: LayerSpec
    arrays: dict[str, np.ndarray] = field(default_factory=dict)


@dataclass
class DlibNetwork:
    """A read network: per-layer parameters, innermost first, and the input's means."""

    loss: str
    input_means: tuple[float, float, float]
    input_size: tuple[int, int]
    layers: list[LayerParameters]


def read_network(data: bytes, layers: list[LayerSpec], source: str) -> DlibNetwork:
    """Read a ``loss_metric`` network over an ``input_rgb_image_sized`` input whose layers,
    outermost first, are ``layers``."""
    stream = DlibStream(data, source)
    stream.expect_version("add_loss_layer", (1,))
    loss = stream.expect_name("loss_metric_", "loss_metric_2")
    if loss == "loss_metric_2":
        stream.real(), stream.real()  # margin and distance threshold: training only
    body = list(layers)
    input_version = 0
    for index, spec in enumerate(body):
        if spec.kind in ("tag", "skip"):
            stream.expect_version(f"{spec.kind} layer", (1,))
        elif index == len(body) - 1:
            input_version = stream.expect_version("input add_layer", (2, 3))
        else:
            stream.expect_version("add_layer", (1, 2))
    stream.expect_name("input_rgb_image_sized")
    means = (stream.real(), stream.real(), stream.real())
    size = (stream.unsigned(), stream.unsigned())
    read: list[LayerParameters] = []
    parameterised = [spec for spec in reversed(body) if spec.kind not in ("tag", "skip")]
    for position, spec in enumerate(parameterised):
        read.append(LayerParameters(spec, _read_details(stream, spec)))
        for _ in range(3):  # setup called, gradient stale, output disabled
            stream.boolean()
        stream.tensor()  # x_grad
        stream.tensor()  # cached output
        if position == 0:
            stream.tensor()  # grad_final
            if input_version >= 3:
                stream.unsigned()  # sample expansion factor
        else:
            stream.tensor()  # params_grad (add_layer version 2; empty in saved files)
    if not stream.at_end():
        raise stream.fail("bytes remain after the network; the file holds more than expected")
    return DlibNetwork(loss, means, size, read)


def _read_details(stream: DlibStream, spec: LayerSpec) -> dict[str, np.ndarray]:
    reader = _DETAIL_READERS[spec.kind]
    return reader(stream, spec)


def _read_con(stream: DlibStream, spec: LayerSpec) -> dict[str, np.ndarray]:
    version = stream.expect_name("con_4", "con_5", "con_6")
    params = stream.tensor().ravel()
    filters = stream.integer()
    rows, cols, stride_y, stride_x = (stream.integer() for _ in range(4))
    padding_y, padding_x = stream.integer(), stream.integer()
    expected_padding = 0 if spec.stride != 1 else spec.size // 2
    geometry = (filters, rows, cols, stride_y, stride_x, padding_y, padding_x)
    wanted = (spec.filters, spec.size, spec.size, spec.stride, spec.stride) + (
        expected_padding,
    ) * 2
    if geometry != wanted:
        raise stream.fail(f"convolution {spec.name} has geometry {geometry}, expected {wanted}")
    filter_shape = stream.alias_shape()
    bias_shape = stream.alias_shape()
    for _ in range(4):  # learning-rate and weight-decay multipliers
        stream.real()
    use_bias = stream.boolean() if version in ("con_5", "con_6") else True
    if version == "con_6" and stream.boolean():
        raise stream.fail(f"convolution {spec.name} has a fused ReLU, which this port lacks")
    weight_count = int(np.prod(filter_shape))
    if filter_shape[0] != filters or params.size < weight_count:
        raise stream.fail(f"convolution {spec.name} filters {filter_shape} do not fit its params")
    arrays = {"weight": params[:weight_count].reshape(filter_shape)}
    if use_bias and int(np.prod(bias_shape)):
        arrays["bias"] = params[weight_count : weight_count + filters].copy()
    return arrays


def _read_affine(stream: DlibStream, spec: LayerSpec) -> dict[str, np.ndarray]:
    """An affine layer, or the batch norm a training net saved in its place, which dlib
    turns into scale = gamma / sqrt(running_var + eps), shift = beta - mean * scale."""
    version = stream.expect_name("bn_con2", "affine_", "affine_2")
    if version == "bn_con2":
        params = stream.tensor().ravel()
        gamma_shape, _ = stream.alias_shape(), stream.alias_shape()
        channels = int(np.prod(gamma_shape))
        stream.tensor(), stream.tensor()  # batch means and inverse stds
        running_mean = stream.tensor().ravel()
        running_variance = stream.tensor().ravel()
        stream.unsigned(), stream.unsigned()  # updates and window size
        for _ in range(4):
            stream.real()
        eps = stream.real()
        gamma, beta = params[:channels], params[channels : 2 * channels]
        scale = gamma / np.sqrt(running_variance + np.float32(eps))
        shift = beta - scale * running_mean
    else:
        params = stream.tensor().ravel()
        gamma_shape, _ = stream.alias_shape(), stream.alias_shape()
        channels = int(np.prod(gamma_shape))
        if stream.integer() != 0:  # layer mode: 0 is CONV_MODE
            raise stream.fail(f"affine layer {spec.name} is not per channel")
        if version == "affine_2" and stream.boolean():
            raise stream.fail(f"affine layer {spec.name} is disabled")
        scale, shift = params[:channels], params[channels : 2 * channels]
    if channels != spec.filters:
        raise stream.fail(
            f"affine layer {spec.name} has {channels} channels, expected {spec.filters}"
        )
    return {"scale": scale.astype(np.float32), "shift": shift.astype(np.float32)}


def _read_relu(stream: DlibStream, spec: LayerSpec) -> dict[str, np.ndarray]:
    if stream.expect_name("relu_", "relu_2") == "relu_2" and stream.boolean():
        raise stream.fail(f"ReLU {spec.name} is disabled")
    return {}


def _read_pool(stream: DlibStream, spec: LayerSpec) -> dict[str, np.ndarray]:
    stream.expect_name("max_pool_2" if spec.kind == "max_pool" else "avg_pool_2")
    geometry = tuple(stream.integer() for _ in range(6))
    if spec.size == 0:  # avg_pool_everything: window and stride 0, no padding
        wanted: tuple[int, ...] = (0, 0, 1, 1, 0, 0)
    else:
        padding = 0 if spec.stride != 1 else spec.size // 2
        wanted = (spec.size, spec.size, spec.stride, spec.stride, padding, padding)
    if geometry != wanted:
        raise stream.fail(f"pooling {spec.name} has geometry {geometry}, expected {wanted}")
    return {}


def _read_add_prev(stream: DlibStream, spec: LayerSpec) -> dict[str, np.ndarray]:
    stream.expect_name("add_prev_")
    return {}


def _read_fc(stream: DlibStream, spec: LayerSpec) -> dict[str, np.ndarray]:
    version = stream.expect_name("fc_2", "fc_3")
    outputs, inputs = stream.unsigned(), stream.unsigned()
    params = stream.tensor().ravel()
    weight_shape = stream.alias_shape()
    stream.alias_shape()  # biases
    if stream.integer() != 1:  # FC_NO_BIAS
        raise stream.fail(f"fully connected layer {spec.name} has a bias; expected fc_no_bias")
    for _ in range(4):
        stream.real()
    if version == "fc_3":
        stream.boolean()
    if outputs != spec.filters or weight_shape[:2] != (inputs, outputs):
        raise stream.fail(f"fully connected layer {spec.name} is {inputs}->{outputs}")
    weights = params[: inputs * outputs].reshape(inputs, outputs)
    return {"weight": np.ascontiguousarray(weights.T)}  # torch's Linear: (out, in)


_DETAIL_READERS = {
    "con": _read_con,
    "affine": _read_affine,
    "relu": _read_relu,
    "max_pool": _read_pool,
    "avg_pool": _read_pool,
    "add_prev": _read_add_prev,
    "fc": _read_fc,
}
