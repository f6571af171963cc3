"""LPIPS and FID, whose backbones are ImageNet-trained networks given as files.

No weights can be downloaded, so nothing here fetches anything. LPIPS uses the ``lpips``
package's own linear heads (shipped inside it) on an AlexNet, SqueezeNet 1.1 or VGG-16
trunk filled from a torchvision state-dict file. FID uses pytorch-fid's Inception
(pool3, 2048-d, its resizing and normalisation) filled from the FID weights file
``pt_inception-2015-12-05-6726825d.pth``. Without a file the metric is not computed.
"""

from __future__ import annotations

import contextlib
import tempfile
from collections.abc import Iterator, Sequence
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from isegan.model.errors import WeightsError
from isegan.model.weights.third_party import read_torch_state_dict

LPIPS_NETWORKS = ("alex", "squeeze", "vgg")
FID_WEIGHTS_NAME = "pt_inception-2015-12-05-6726825d.pth"


def _to_tensor(images: Sequence[Image.Image]) -> torch.Tensor:
    """RGB images -> (N, 3, H, W) in [-1, 1]."""
    arrays = [np.asarray(image.convert("RGB"), dtype=np.float32) for image in images]
    return torch.from_numpy(np.stack(arrays)).permute(0, 3, 1, 2) / 127.5 - 1


def build_lpips(network: str, backbone_weights: str | Path) -> torch.nn.Module:
    """LPIPS with the package's linear heads and a backbone from a torchvision file
    (``alexnet``, ``squeezenet1_1`` or ``vgg16`` state dict: ``features.N.*`` keys)."""
    import lpips

    if network not in LPIPS_NETWORKS:
        raise ValueError(f"unknown LPIPS network {network!r}, choose one of {LPIPS_NETWORKS}")
    model = lpips.LPIPS(net=network, pnet_rand=True, verbose=False)
    features = {
        key.removeprefix("features."): value
        for key, value in read_torch_state_dict(backbone_weights).items()
        if key.startswith("features.")
    }
    trunk = model.net
    expected = {name: param for name, param in trunk.named_parameters()}
    loaded = 0
    for name, parameter in expected.items():
        index_and_field = name.split(".", 1)[1]  # "slice2.3.weight" -> "3.weight"
        if index_and_field not in features:
            raise WeightsError(
                f"{backbone_weights} lacks features.{index_and_field} for LPIPS-{network}"
            )
        source = features[index_and_field]
        if source.shape != parameter.shape:
            raise WeightsError(
                f"{backbone_weights}: features.{index_and_field} is {tuple(source.shape)}, "
                f"LPIPS-{network} needs {tuple(parameter.shape)}"
            )
        with torch.no_grad():
            parameter.copy_(source)
        loaded += 1
    if not loaded:
        raise WeightsError(f"{backbone_weights} holds no backbone weights for LPIPS-{network}")
    return model.eval()


def lpips_distances(
    model: torch.nn.Module, real: Sequence[Image.Image], fake: Sequence[Image.Image]
) -> list[float]:
    values = []
    with torch.no_grad():
        for start in range(0, len(real), 16):
            a = _to_tensor(real[start : start + 16])
            b = _to_tensor(fake[start : start + 16])
            values += model(a, b).flatten().tolist()
    return values


@contextlib.contextmanager
def _hub_cache_with(weights: Path) -> Iterator[None]:
    """Let pytorch-fid find the FID Inception weights in a private torch.hub cache, so its
    own loading code runs unchanged and nothing is downloaded."""
    previous = torch.hub.get_dir()
    with tempfile.TemporaryDirectory() as folder:
        checkpoints = Path(folder) / "checkpoints"
        checkpoints.mkdir()
        (checkpoints / FID_WEIGHTS_NAME).symlink_to(weights.resolve())
        torch.hub.set_dir(folder)
        try:
            yield
        finally:
            torch.hub.set_dir(previous)


def build_fid_inception(weights: str | Path) -> torch.nn.Module:
    from pytorch_fid.inception import InceptionV3

    path = Path(weights)
    read_torch_state_dict(path)  # refuses files that are not plain tensors (no pickled code)
    with _hub_cache_with(path):
        try:
            model = InceptionV3([InceptionV3.BLOCK_INDEX_BY_DIM[2048]], use_fid_inception=True)
        except RuntimeError as error:
            raise WeightsError(f"{path} does not fit pytorch-fid's Inception: {error}") from error
    return model.eval()


def inception_features(model: torch.nn.Module, images: Sequence[Image.Image]) -> np.ndarray:
    """pool3 features; pytorch-fid expects [0, 1] inputs and resizes to 299 itself."""
    rows = []
    with torch.no_grad():
        for start in range(0, len(images), 16):
            batch = (_to_tensor(images[start : start + 16]) + 1) / 2
            rows.append(model(batch)[0].squeeze(-1).squeeze(-1).numpy())
    return np.concatenate(rows).astype(np.float64)


def frechet_distance(features_a: np.ndarray, features_b: np.ndarray) -> float:
    """Frechet distance between Gaussians fitted to two feature sets (pytorch-fid's)."""
    from pytorch_fid.fid_score import calculate_frechet_distance

    return float(
        calculate_frechet_distance(
            features_a.mean(axis=0), np.cov(features_a, rowvar=False),
            features_b.mean(axis=0), np.cov(features_b, rowvar=False),
        )
    )  # fmt: skip
