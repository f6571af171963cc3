"""Sketch/photo pair folders: ``photos/ID.png``, ``sketches/ID.png`` and split lists.

Every problem with the folder is reported with the file it concerns: a missing pair, an
unreadable image, or a sketch whose size differs from its photo's.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image, UnidentifiedImageError

from isegan.model.weights.checkpoint import DataRecord

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff")


def ids_sha256(ids: Sequence[str]) -> str:
    """Hash of a set of pair IDs (order-independent): names the exact data used."""
    return hashlib.sha256("\n".join(sorted(ids)).encode()).hexdigest()


class DataError(ValueError):
    """The pair folder or split list cannot be used as it is."""


@dataclass(frozen=True)
class PairFolder:
    """A folder of aligned pairs and the IDs of one split."""

    root: Path
    split: str
    ids: tuple[str, ...]

    @classmethod
    def open(cls, root: str | Path, split: str) -> PairFolder:
        """Read ``root/<split>.txt`` (one ID per line) and check every pair exists."""
        root = Path(root)
        listing = root / f"{split}.txt"
        if not listing.is_file():
            raise DataError(f"split list not found: {listing}")
        ids = tuple(line.strip() for line in listing.read_text().splitlines() if line.strip())
        if not ids:
            raise DataError(f"split list {listing} is empty")
        duplicates = sorted({i for i in ids if ids.count(i) > 1})
        if duplicates:
            raise DataError(f"split list {listing} repeats IDs: {duplicates[:5]}")
        folder = cls(root, split, ids)
        missing = [
            str(path)
            for pair_id in ids
            for path in (folder.photo_path(pair_id), folder.sketch_path(pair_id))
            if not path.is_file()
        ]
        if missing:
            more = f" (+{len(missing) - 5} more)" if len(missing) > 5 else ""
            raise DataError(
                f"{len(missing)} files of split {split!r} are missing: "
                f"{', '.join(missing[:5])}{more}"
            )
        return folder

    def without(self, ids: Sequence[str], split: str) -> PairFolder:
        """This split less ``ids`` (each must be in it), named ``split``."""
        dropped = self._members(ids)
        return PairFolder(self.root, split, tuple(i for i in self.ids if i not in dropped))

    def only(self, ids: Sequence[str], split: str) -> PairFolder:
        """Just the pairs ``ids`` of this split (each must be in it), named ``split``."""
        kept = self._members(ids)
        return PairFolder(self.root, split, tuple(i for i in self.ids if i in kept))

    def _members(self, ids: Sequence[str]) -> set[str]:
        unknown = sorted(set(ids) - set(self.ids))
        if unknown:
            raise DataError(f"{len(unknown)} pairs are not in split {self.split!r}: {unknown[:5]}")
        return set(ids)

    def _find(self, kind: str, pair_id: str) -> Path:
        for suffix in IMAGE_SUFFIXES:
            path = self.root / kind / f"{pair_id}{suffix}"
            if path.is_file():
                return path
        return self.root / kind / f"{pair_id}.png"

    def photo_path(self, pair_id: str) -> Path:
        return self._find("photos", pair_id)

    def sketch_path(self, pair_id: str) -> Path:
        return self._find("sketches", pair_id)

    def ids_sha256(self) -> str:
        return ids_sha256(self.ids)

    def record(self) -> DataRecord:
        return DataRecord(
            name=self.root.name, split=self.split, num_pairs=len(self.ids),
            ids_sha256=self.ids_sha256(),
        )  # fmt: skip

    def load_pair(self, pair_id: str) -> tuple[np.ndarray, np.ndarray]:
        """(photo, sketch) as RGB uint8 arrays of the same size."""
        photo = read_rgb(self.photo_path(pair_id))
        sketch = read_rgb(self.sketch_path(pair_id))
        if photo.shape != sketch.shape:
            raise DataError(
                f"pair {pair_id!r}: sketch {self.sketch_path(pair_id)} is "
                f"{sketch.shape[1]}x{sketch.shape[0]} but photo {self.photo_path(pair_id)} is "
                f"{photo.shape[1]}x{photo.shape[0]}"
            )
        return photo, sketch


def read_id_list(path: str | Path) -> tuple[str, ...]:
    """Pair IDs from a text file, one per line (blank lines ignored)."""
    path = Path(path)
    if not path.is_file():
        raise DataError(f"ID list not found: {path}")
    ids = tuple(line.strip() for line in path.read_text().splitlines() if line.strip())
    if not ids:
        raise DataError(f"ID list {path} is empty")
    return ids


def read_rgb(path: Path) -> np.ndarray:
    try:
        with Image.open(path) as image:
            return np.asarray(image.convert("RGB"))
    except (UnidentifiedImageError, OSError) as error:
        raise DataError(f"{path}: not a readable image ({error})") from error
