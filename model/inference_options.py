"""How the networks run at inference: precision, memory layout, BatchNorm folding and
compilation. One typed config, applied to a pipeline's networks once, at load time.

The reference is eager fp32 (``InferenceOptions.reference()``); everything else is an
optimisation that must match it within the tolerance ``tests/model/test_inference_options.py``
checks on the bundled test sketches. ``precision="auto"`` picks bf16 only where the
hardware computes it natively (AMX / AVX-512 BF16 on a CPU, Ampere or newer on CUDA),
so it never makes a machine slower.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Callable
from typing import Any, Literal, TypeVar, get_args

import torch
from pydantic import BaseModel, ConfigDict, Field
from torch import nn

from isegan.model.networks.subpixel import resize_conv_parts, rewrite_resize_convs

logger = logging.getLogger(__name__)

Precision = Literal["auto", "fp32", "bf16", "fp16"]
ResolvedPrecision = Literal["fp32", "bf16", "fp16"]
#: Which runtime runs the networks: "auto" times PyTorch and OpenVINO on a CPU host and
#: keeps the faster (PyTorch alone where openvino is not installed, or on CUDA).
Backend = Literal["auto", "torch", "openvino"]
BACKENDS: tuple[str, ...] = get_args(Backend)
_Function = TypeVar("_Function", bound=Callable[..., Any])
PRECISIONS: tuple[str, ...] = get_args(Precision)
_DTYPES = {"bf16": torch.bfloat16, "fp16": torch.float16}

#: (conv, norm) attribute pairs where a module computes ``norm(conv(x))`` directly: the
#: generators' levels, BiSeNet's blocks and torchvision's ResNet BasicBlock.
_CONV_NORM_PAIRS = (("conv", "norm"), ("conv", "bn"), ("conv1", "bn1"), ("conv2", "bn2"),
                    ("conv_atten", "bn_atten"))  # fmt: skip


class InferenceOptions(BaseModel):
    """Inference settings; the defaults are the fastest safe choice for the device."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    precision: Precision = "auto"
    channels_last: bool = True
    fold_batchnorm: bool = True
    subpixel_heads: bool = Field(
        True,
        description="Run each resize-convolution that makes fewer than 16 channels (the "
        "generators' output heads) at the low resolution with 4x the channels and a pixel "
        "shuffle: the same function up to rounding, about a sixth faster G1+G2 on a CPU.",
    )
    compile: bool = False
    backend: Backend = Field(
        "auto",
        description="auto: on a CPU with openvino installed, time PyTorch and OpenVINO "
        "for the parser and for G1+G2 at load and keep the faster of each; torch; openvino.",
    )
    parser_direct_resize: bool = Field(
        True,
        description="Resize the parser's logits straight to the canvas, not via its input "
        "size (no effect when the two are equal, as for the bundled parser).",
    )
    parser_input_size: int | None = Field(
        None, ge=32, description="Run the parser at this square size instead of its own."
    )

    @classmethod
    def reference(cls) -> InferenceOptions:
        """Eager fp32, NCHW, unfolded: the numbers every optimisation is checked against."""
        return cls(
            precision="fp32",
            channels_last=False,
            fold_batchnorm=False,
            subpixel_heads=False,
            compile=False,
            backend="torch",
            parser_direct_resize=False,
        )


def native_bf16(device: torch.device) -> bool:
    """Whether ``device`` computes bf16 matmuls and convolutions in hardware."""
    if device.type == "cuda":
        return bool(torch.cuda.is_bf16_supported(including_emulation=False))
    if device.type == "cpu":
        try:
            return bool(torch.ops.mkldnn._is_mkldnn_bf16_supported())
        except (AttributeError, RuntimeError):  # a build without oneDNN
            return False
    return False


def resolve_precision(precision: Precision, device: torch.device) -> ResolvedPrecision:
    """'auto' -> bf16 where native, else fp16 on CUDA, else fp32. An explicit choice the
    device cannot run (bf16 on an old CPU would be emulated, many times slower; fp16 on
    a CPU has no fast kernels) falls back to fp32 with a warning, never an error."""
    if precision == "auto":
        if native_bf16(device):
            return "bf16"
        return "fp16" if device.type == "cuda" else "fp32"
    if precision == "bf16" and not native_bf16(device):
        logger.warning("bf16 requested but %s has no native bf16: using fp32", device)
        return "fp32"
    if precision == "fp16" and device.type != "cuda":
        logger.warning("fp16 requested on %s, which has no fast fp16 kernels: using fp32", device)
        return "fp32"
    return precision


def autocast(
    precision: ResolvedPrecision, device: torch.device
) -> contextlib.AbstractContextManager[Any]:
    """Mixed precision for convolutions and matmuls; softmax, norms and losses stay fp32."""
    if precision == "fp32":
        return contextlib.nullcontext()
    return torch.autocast(device.type, dtype=_DTYPES[precision])


@torch.no_grad()
def fold_batchnorm(module: nn.Module) -> int:
    """Fold every eval-mode BatchNorm that directly follows a convolution into that
    convolution's weights and bias, and replace it by Identity. Returns how many.

    Exact in real arithmetic (BN at inference is a per-channel affine map); in fp32 the
    outputs move by rounding only. The module must be in eval mode and stay there.
    """
    if module.training:
        raise ValueError("fold_batchnorm needs a module in eval mode")
    folded = 0
    for parent in list(module.modules()):
        pairs = list(_CONV_NORM_PAIRS)
        if isinstance(parent, nn.Sequential) and len(parent) == 2:
            pairs.append(("0", "1"))  # torchvision's downsample: Sequential(conv, bn)
        for conv_name, norm_name in pairs:
            conv = getattr(parent, conv_name, None)
            # a resize only moves pixels: a norm after a resize-convolution folds into it
            parts = resize_conv_parts(conv)
            conv = parts[1] if parts is not None else conv
            norm = getattr(parent, norm_name, None)
            if isinstance(conv, (nn.Conv2d, nn.ConvTranspose2d)) and isinstance(
                norm, nn.BatchNorm2d
            ):
                _fold_pair(conv, norm)
                setattr(parent, norm_name, nn.Identity())
                folded += 1
    return folded


def _fold_pair(conv: nn.Conv2d | nn.ConvTranspose2d, norm: nn.BatchNorm2d) -> None:
    assert norm.running_mean is not None and norm.running_var is not None
    scale = torch.rsqrt(norm.running_var + norm.eps)
    if norm.weight is not None:
        scale = scale * norm.weight
    shift = -norm.running_mean * scale
    if norm.bias is not None:
        shift = shift + norm.bias
    bias = conv.bias if conv.bias is not None else torch.zeros_like(norm.running_mean)
    # Conv2d weights are (out, in, kh, kw); ConvTranspose2d's are (in, out / groups, kh, kw).
    if isinstance(conv, nn.ConvTranspose2d):
        if conv.groups != 1:
            raise ValueError("folding into a grouped transposed convolution is not supported")
        conv.weight.mul_(scale.view(1, -1, 1, 1))
    else:
        conv.weight.mul_(scale.view(-1, 1, 1, 1))
    conv.bias = nn.Parameter(bias * scale + shift)


def prepare(
    module: nn.Module, options: InferenceOptions, precision: ResolvedPrecision = "fp32"
) -> nn.Module:
    """Apply the layout, folding and weight-precision options to an eval-mode module,
    in place. With bf16 or fp16, convolution weights are stored in that type once, so
    autocast does not convert every weight on every call (measured: a fifth of a
    batch's time at the paper's sizes); norms and everything else stay fp32."""
    if options.fold_batchnorm:
        fold_batchnorm(module)
    if options.subpixel_heads:  # after folding: a folded norm is inside the convolution
        rewrite_resize_convs(module)
    if precision != "fp32":
        for layer in module.modules():
            if isinstance(layer, (nn.Conv2d, nn.ConvTranspose2d, nn.Linear)):
                layer.to(_DTYPES[precision])
    if options.channels_last:
        module.to(memory_format=torch.channels_last)
    return module


def compiled(function: _Function, options: InferenceOptions) -> _Function:
    """``torch.compile`` when asked for; compilation itself happens on the first call.

    Inductor's freezing is switched on (process-wide): it treats the weights as
    constants, so it can pre-pack them for oneDNN, which is where its speed-up on a CPU
    comes from (measured: none without it). Each batch size compiles once, on its first
    call; the service does that for every size during its warm-up."""
    if not options.compile:
        return function
    import torch._dynamo.config as dynamo_config
    import torch._inductor.config as inductor_config

    inductor_config.freezing = True
    # One static graph per batch size (a dynamic-batch graph measured slower than eager);
    # room for every size a service's micro-batches can take.
    dynamo_config.cache_size_limit = max(dynamo_config.cache_size_limit, 64)
    return torch.compile(function, dynamic=False)  # type: ignore[return-value]


def channels_last_input(tensor: torch.Tensor, options: InferenceOptions) -> torch.Tensor:
    if options.channels_last and tensor.ndim == 4:
        return tensor.contiguous(memory_format=torch.channels_last)
    return tensor
