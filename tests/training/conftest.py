"""A small pair folder over the bundled CUFS images and a trainer factory.

The folder links to the real photos and sketches and lists a few training IDs; the face
parser is a randomly initialised one the test session writes (no trained weights here).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import torch
from torchvision.models import vgg19

from isegan.training.gan.config import build_config
from isegan.training.gan.data import prepare_data
from isegan.training.gan.distributed import DistributedContext
from isegan.training.gan.trainer import Trainer

CPU = DistributedContext(0, 1, 0, torch.device("cpu"))


@pytest.fixture(scope="session")
def tiny_pairs(cufs_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("pairs")
    for kind in ("photos", "sketches"):
        (root / kind).symlink_to(cufs_dir / kind, target_is_directory=True)
    ids = (cufs_dir / "train.txt").read_text().split()
    (root / "four.txt").write_text("\n".join([ids[0], ids[1], ids[-1], ids[-2]]) + "\n")
    (root / "two.txt").write_text("\n".join(ids[:2]) + "\n")
    return root


@pytest.fixture(scope="session")
def trainer_factory(
    tiny_pairs: Path, parser_checkpoint: Path, tmp_path_factory: pytest.TempPathFactory
) -> Callable[..., Trainer]:
    cache = tmp_path_factory.mktemp("parsing-cache")

    def make(out: Path, preset: str = "full", *, width: int = 8, split: str = "four",
             overrides: tuple[str, ...] = (), **fields: Any) -> Trainer:  # fmt: skip
        config = build_config(
            preset,
            overrides=overrides,
            data__root=str(tiny_pairs),
            data__split=split,
            data__parsing_cache=str(cache),
            parser_weights=str(parser_checkpoint),
            model__generator__base_channels=width,
            discriminator_channels=width,
            sample_every=10_000,
            checkpoint_every=10_000,
            **{"batch_size": 2, **fields},
        )
        data = prepare_data(config, out, CPU)
        return Trainer(config, out, CPU, data=data, progress=False)

    return make


@pytest.fixture(scope="session")
def vgg_file(tmp_path_factory):
    """A torchvision-format VGG-19 state dict with random weights (features only, which is
    all the loader reads), so the L_per code path runs for real."""
    torch.manual_seed(0)
    state = {k: v for k, v in vgg19(weights=None).state_dict().items() if k.startswith("features.")}
    path = tmp_path_factory.mktemp("vgg") / "vgg19.pth"
    torch.save(state, path)
    return path
