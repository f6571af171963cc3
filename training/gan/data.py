"""Training data: pairs in memory, cached parsing maps, deterministic augmentation.

Parsing maps P_s (of each sketch) and P_p (of each photo) are computed once by the
configured parser and stored under a folder named by the parser's id, so a different
parser never reuses a stale cache. Augmentation (pad to ``load_size``, random 256 crop,
horizontal flip) is identical for sketch, photo and both maps, and is drawn from a
generator seeded by (seed, epoch, index): the same step sees the same batch whether the
run was resumed or not, and whatever the number of loader workers.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image
from torch import nn
from torch.utils.data import Dataset, Sampler
from tqdm import tqdm

from isegan.model.parsing import load_parser
from isegan.model.preprocess import Placement, Preprocess
from isegan.model.weights.pretrained import default_parser_path
from isegan.training.gan.config import TrainConfig
from isegan.training.gan.distributed import DistributedContext, barrier
from isegan.training.pairs import PairFolder, read_id_list

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class ParsingMaps:
    sketch: np.ndarray  # (8, H, W) uint8, probability * 255
    photo: np.ndarray


def quantise(probabilities: torch.Tensor) -> np.ndarray:
    return probabilities.mul(255).round().clamp(0, 255).to(torch.uint8).cpu().numpy()


def dequantise(stored: np.ndarray) -> torch.Tensor:
    """uint8 probabilities back to floats that sum to one per pixel."""
    values = torch.from_numpy(stored.astype(np.float32)) + 1e-3
    return values / values.sum(dim=0, keepdim=True)


class ParsingCache:
    """``root/<parser id>[-canvas][-held-out-<key>]/<pair id>.npz`` holding the quantised
    P_s and P_p of one pair (``key`` names the held-out sketch parsers and their pairs).

    ``frame="canvas"`` keeps the parser's whole 256 canvas, padding included, exactly as
    inference sees P_s; ``frame="crop"`` keeps only the image's own region and the
    dataset replicates its border into the padding (what the first releases trained on).
    """

    def __init__(
        self,
        root: str | Path,
        parser_id: str,
        frame: Literal["canvas", "crop"] = "canvas",
        held_out_key: str = "",
    ) -> None:
        self.frame = frame
        name = parser_id[:16] + ("-canvas" if frame == "canvas" else "")
        self.folder = Path(root) / (
            name + (f"-held-out-{held_out_key[:12]}" if held_out_key else "")
        )

    def path(self, pair_id: str) -> Path:
        return self.folder / f"{pair_id}.npz"

    def fill(
        self,
        folder: PairFolder,
        parser: nn.Module,
        device: torch.device,
        *,
        sketch_parsers: Mapping[str, nn.Module] | None = None,
        batch_size: int = 8,
        progress: bool = True,
    ) -> None:
        """Compute the maps of every pair not cached yet: P_p with ``parser``, P_s with
        the pair's entry in ``sketch_parsers`` if it has one, else with ``parser``."""
        todo = [pair_id for pair_id in folder.ids if not self.path(pair_id).is_file()]
        if not todo:
            return
        self.folder.mkdir(parents=True, exist_ok=True)
        preprocess = Preprocess()
        parser = parser.to(device).eval()
        held_out = {pair_id: p.to(device).eval() for pair_id, p in (sketch_parsers or {}).items()}
        by_sketch_parser: dict[nn.Module, list[str]] = {}
        for pair_id in todo:
            by_sketch_parser.setdefault(held_out.get(pair_id, parser), []).append(pair_id)
        bar = tqdm(total=len(todo), desc="parsing cache", disable=not progress)
        for sketch_parser, members in by_sketch_parser.items():
            for start in range(0, len(members), batch_size):
                chunk = members[start : start + batch_size]
                pairs = [folder.load_pair(pair_id) for pair_id in chunk]
                sketch_maps = self._parse(sketch_parser, [s for _, s in pairs], preprocess, device)
                photo_maps = self._parse(parser, [p for p, _ in pairs], preprocess, device)
                for pair_id, sketch_map, photo_map in zip(
                    chunk, sketch_maps, photo_maps, strict=True
                ):
                    np.savez_compressed(
                        self.path(pair_id), sketch=quantise(sketch_map), photo=quantise(photo_map)
                    )
                bar.update(len(chunk))
        bar.close()

    def _parse(
        self,
        parser: nn.Module,
        images: Sequence[np.ndarray],
        preprocess: Preprocess,
        device: torch.device,
    ) -> list[torch.Tensor]:
        """Class probabilities on the canvas, or on the image's own region for "crop"."""
        canvases, placements = zip(
            *(preprocess.to_canvas(Image.fromarray(i)) for i in images), strict=True
        )
        with torch.inference_mode():
            probabilities = parser(torch.stack(canvases).to(device))
        if self.frame == "crop":
            return [preprocess.crop(p, at) for p, at in zip(probabilities, placements, strict=True)]
        return list(probabilities)

    def load(self, pair_id: str) -> ParsingMaps:
        with np.load(self.path(pair_id)) as stored:
            return ParsingMaps(sketch=stored["sketch"], photo=stored["photo"])


class PairDataset(Dataset[dict[str, torch.Tensor]]):
    """Pairs with their parsing maps, all on the 256 canvas, augmented per (epoch, index).

    Items are addressed by ``(epoch, index)`` tuples, which :class:`EpochSampler` yields.
    """

    def __init__(
        self,
        folder: PairFolder,
        cache: ParsingCache,
        *,
        seed: int = 0,
        load_size: int = 286,
        flip: bool = True,
        augment: bool = True,
    ) -> None:
        self.ids = folder.ids
        self.seed = seed
        self.load_size = load_size
        self.flip = flip
        self.augment = augment
        preprocess = Preprocess()
        self.items: list[dict[str, torch.Tensor]] = []
        for index, pair_id in enumerate(folder.ids):
            photo, sketch = folder.load_pair(pair_id)
            maps = cache.load(pair_id)
            sketch_canvas, placement = preprocess.to_canvas(Image.fromarray(sketch))
            photo_canvas, _ = preprocess.to_canvas(Image.fromarray(photo))
            self.items.append({
                "sketch": sketch_canvas,
                "photo": photo_canvas,
                "sketch_parsing": _map_to_canvas(maps.sketch, placement),
                "photo_parsing": _map_to_canvas(maps.photo, placement),
                "frame": torch.tensor(
                    [placement.left, placement.top, 0.0, placement.width, placement.height]
                ),
                # which pair (person) this is: L_id-contrast's gallery row of the real photo
                "index": torch.tensor(index),
            })  # fmt: skip

    def __len__(self) -> int:
        return len(self.items)

    def __getitem__(self, key: tuple[int, int] | int) -> dict[str, torch.Tensor]:
        epoch, index = key if isinstance(key, tuple) else (0, key)
        item = self.items[index]
        if not self.augment:
            return dict(item)
        generator = torch.Generator().manual_seed(
            (self.seed * 1_000_003 + epoch) * 1_000_003 + index
        )
        size = item["sketch"].shape[-1]
        margin = (self.load_size - size) // 2
        top = int(torch.randint(0, 2 * margin + 1, (1,), generator=generator))
        left = int(torch.randint(0, 2 * margin + 1, (1,), generator=generator))
        flip = self.flip and bool(torch.rand((), generator=generator) < 0.5)
        origin_x, origin_y, _, width, height = item["frame"].tolist()
        out = {"frame": torch.tensor([origin_x + margin - left, origin_y + margin - top,
                                      float(flip), width, height]),
               "index": item["index"]}  # fmt: skip
        for name, tensor in item.items():
            if name in out:
                continue
            padded = F.pad(tensor.unsqueeze(0), (margin,) * 4, mode="replicate").squeeze(0)
            crop = padded[:, top : top + size, left : left + size]
            out[name] = crop.flip(-1) if flip else crop
        return out


def _map_to_canvas(stored: np.ndarray, placement: Placement) -> torch.Tensor:
    """(8, h, w) stored map -> (8, 256, 256) probabilities: a canvas map as it is, a
    cropped one replicated at the borders like the image."""
    size = 256
    if stored.shape[-2:] == (size, size):
        return dequantise(stored)
    probabilities = dequantise(stored).unsqueeze(0)
    padding = (
        placement.left,
        size - placement.left - placement.width,
        placement.top,
        size - placement.top - placement.height,
    )
    return F.pad(probabilities, padding, mode="replicate").squeeze(0)


class EpochSampler(Sampler[tuple[int, int]]):
    """Shuffled ``(epoch, index)`` keys, split across DDP ranks, resumable mid-epoch.

    The permutation depends only on (seed, epoch), so every rank agrees on it and a
    resumed run replays the same order; ``skip_batches`` drops what was already seen.
    """

    def __init__(
        self,
        size: int,
        *,
        seed: int,
        batch_size: int,
        rank: int = 0,
        world_size: int = 1,
    ) -> None:
        self.size = size
        self.seed = seed
        self.batch_size = batch_size
        self.rank = rank
        self.world_size = world_size
        self.epoch = 0
        self.skip_batches = 0

    def set_epoch(self, epoch: int, skip_batches: int = 0) -> None:
        self.epoch = epoch
        self.skip_batches = skip_batches

    def batches_per_epoch(self) -> int:
        return max(1, self.size // (self.batch_size * self.world_size))

    def _indices(self) -> list[int]:
        generator = torch.Generator().manual_seed(self.seed * 7919 + self.epoch)
        order = torch.randperm(self.size, generator=generator).tolist()
        usable = self.batches_per_epoch() * self.batch_size * self.world_size
        order = (order * (usable // max(1, self.size) + 1))[:usable]
        return order[self.rank :: self.world_size]

    def __iter__(self) -> Iterator[tuple[int, int]]:
        indices = self._indices()[self.skip_batches * self.batch_size :]
        return iter([(self.epoch, index) for index in indices])

    def __len__(self) -> int:
        return (self.batches_per_epoch() - self.skip_batches) * self.batch_size


def collate(items: Sequence[dict[str, torch.Tensor]]) -> dict[str, torch.Tensor]:
    return {name: torch.stack([item[name] for item in items]) for name in items[0]}


@dataclass
class RunData:
    folder: PairFolder
    dataset: PairDataset
    parser_id: str
    parser_description: str
    parser: nn.Module  # the run's parser, for P_s of sketches rendered while training


def prepare_data(config: TrainConfig, out: Path, context: DistributedContext) -> RunData:
    """Open the pairs, make sure the parsing cache is filled (rank 0), load the dataset."""
    folder = PairFolder.open(config.data.root, config.data.split)
    if config.data.holdout is not None:
        holdout = Path(config.data.holdout)
        folder = folder.without(read_id_list(holdout), f"{folder.split}-minus-{holdout.stem}")
    parser_path = config.parser_weights or default_parser_path()
    if parser_path is None:
        raise ValueError("no face parser given and no default parser is installed: pass --parser")
    loaded = load_parser(parser_path, context.device, config.parser_backend)
    held_out = load_held_out_parsers(config, folder, context.device)
    cache = ParsingCache(
        config.data.parsing_cache or out / "parsing-cache",
        loaded.parser_id,
        config.data.parsing_frame,
        held_out.key,
    )
    if context.is_main:
        cache.fill(folder, loaded.parser, context.device, sketch_parsers=held_out.by_pair)
    barrier(context)
    dataset = PairDataset(
        folder, cache, seed=config.seed, load_size=config.data.load_size, flip=config.data.flip
    )
    # The bundled parser is named as such, not by where this machine installed it.
    named = "the bundled default parser" if config.parser_weights is None else str(parser_path)
    description = named + held_out.description
    return RunData(folder, dataset, loaded.parser_id, description, loaded.parser.eval())


@dataclass(frozen=True)
class HeldOutParsers:
    by_pair: dict[str, nn.Module]  # pair id -> the parser that makes its P_s
    key: str  # hash of every held-out parser's id and its pair list ("" when none)
    description: str  # for the checkpoint's parser record


def load_held_out_parsers(
    config: TrainConfig, folder: PairFolder, device: torch.device
) -> HeldOutParsers:
    """Load ``data.held_out_sketch_parsers`` and check their pair lists: disjoint, and
    every listed pair in the training split."""
    entries = config.data.held_out_sketch_parsers
    if not entries:
        return HeldOutParsers({}, "", "")
    by_pair: dict[str, nn.Module] = {}
    digest = hashlib.sha256()
    notes = []
    training = set(folder.ids)
    for entry in entries:
        ids = Path(entry.ids).read_text().split()
        if not ids:
            raise ValueError(f"held-out parser {entry.parser}: {entry.ids} lists no pairs")
        unknown = sorted(set(ids) - training)
        if unknown:
            raise ValueError(
                f"{entry.ids}: {len(unknown)} pairs not in the training split, e.g. {unknown[:3]}"
            )
        twice = sorted(set(ids) & set(by_pair))
        if twice:
            raise ValueError(
                f"{entry.ids}: pairs already held out by another parser, e.g. {twice[:3]}"
            )
        loaded = load_parser(entry.parser, device, config.parser_backend)
        by_pair.update(dict.fromkeys(ids, loaded.parser))
        digest.update(f"{loaded.parser_id}:{','.join(sorted(ids))};".encode())
        notes.append(f"{loaded.parser_id[:12]} for {len(ids)} pairs")
    description = f"; P_s cross-fitted: {', '.join(notes)}"
    logger.info("sketch parsings from held-out parsers: %s", ", ".join(notes))
    return HeldOutParsers(by_pair, digest.hexdigest(), description)
