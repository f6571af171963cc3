"""Loading third-party ``.pth`` state dicts (public BiSeNet, torchvision VGG-19) safely.

Files are read with ``torch.load(weights_only=True)``: a pickle that tries to run code
is refused. Keys and shapes are checked against the network and any difference is
reported by name, not as a bare ``RuntimeError`` from ``load_state_dict``.
"""

from __future__ import annotations

import pickle
from collections.abc import Mapping
from pathlib import Path

import torch
from torch import nn

from isegan.model.config import ParserConfig
from isegan.model.errors import WeightsError
from isegan.model.networks.parser import BiSeNet
from isegan.model.networks.vgg import VGG19Features

_MAX_LISTED = 8
# Older BatchNorm checkpoints lack this counter; it carries no learned information.
_OPTIONAL_SUFFIXES = ("num_batches_tracked",)


def read_torch_state_dict(path: str | Path) -> dict[str, torch.Tensor]:
    """Read a plain state dict (or a ``{"state_dict": ...}`` wrapper) from a .pth file."""
    path = Path(path)
    if not path.is_file():
        raise WeightsError(f"weights file not found: {path}")
    try:
        loaded = torch.load(path, map_location="cpu", weights_only=True)
    except (pickle.UnpicklingError, RuntimeError, EOFError, ValueError, OSError) as error:
        raise WeightsError(
            f"{path} is not a readable PyTorch state dict (corrupt, truncated, or it holds "
            f"objects other than tensors): {error}"
        ) from error
    if isinstance(loaded, Mapping) and "state_dict" in loaded:
        loaded = loaded["state_dict"]
    if not isinstance(loaded, Mapping) or not all(
        isinstance(value, torch.Tensor) for value in loaded.values()
    ):
        raise WeightsError(f"{path} does not hold a state dict of tensors")
    return {_strip_wrappers(key): value for key, value in loaded.items()}


def _strip_wrappers(key: str) -> str:
    """Drop prefixes added by DataParallel/DDP (``module.``) and torch.compile (``_orig_mod.``)."""
    for prefix in ("module.", "_orig_mod."):
        while key.startswith(prefix):
            key = key[len(prefix) :]
    return key


def load_matching_state_dict(
    module: nn.Module, state_dict: Mapping[str, torch.Tensor], source: str
) -> None:
    """Load ``state_dict`` into ``module`` after checking every key and shape."""
    expected = module.state_dict()
    missing = [
        key for key in expected if key not in state_dict and not key.endswith(_OPTIONAL_SUFFIXES)
    ]
    unexpected = [key for key in state_dict if key not in expected]
    wrong_shape = [
        f"{key}: file {tuple(state_dict[key].shape)} vs network {tuple(expected[key].shape)}"
        for key in expected
        if key in state_dict and state_dict[key].shape != expected[key].shape
    ]
    problems = []
    for label, items in (
        ("missing keys", missing),
        ("unexpected keys", unexpected),
        ("shape mismatches", wrong_shape),
    ):
        if items:
            shown = ", ".join(items[:_MAX_LISTED])
            more = f" (+{len(items) - _MAX_LISTED} more)" if len(items) > _MAX_LISTED else ""
            problems.append(f"{len(items)} {label}: {shown}{more}")
    if problems:
        raise WeightsError(f"{source} does not fit {type(module).__name__}: " + "; ".join(problems))
    module.load_state_dict(dict(state_dict), strict=False)


def load_public_bisenet(path: str | Path) -> tuple[BiSeNet, ParserConfig]:
    """Build the 19-class CelebAMask-HQ BiSeNet and fill it from ``79999_iter.pth``."""
    config = ParserConfig(base_channels=64, label_scheme="celebamask-hq-19", input_size=512)
    network = BiSeNet.from_config(config)
    load_matching_state_dict(network, read_torch_state_dict(path), f"BiSeNet weights {path}")
    return network, config


def load_vgg19_features(path: str | Path) -> VGG19Features:
    """VGG-19 perceptual trunk from a torchvision ``vgg19`` state dict (classifier ignored)."""
    state = read_torch_state_dict(path)
    features = VGG19Features()
    wanted = {
        key.removeprefix("features."): value
        for key, value in state.items()
        if key.startswith("features.") and int(key.split(".")[1]) < len(features.features)
    }
    if not wanted:
        raise WeightsError(
            f"{path} has no 'features.*' keys; expected a torchvision vgg19 state dict"
        )
    load_matching_state_dict(features.features, wanted, f"VGG-19 weights {path}")
    return features
