"""Pseudo-labels computed once per pair and kept on disk as palette PNGs.

The cache folder is keyed by the labelling method's version; each entry records the
SHA-256 of the photo and sketch it came from, so an edited image is relabelled and a
changed method never reuses stale labels.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path

import numpy as np
from PIL import Image
from tqdm import tqdm

from isegan.model.face_classes import parsing_from_image, parsing_to_image
from isegan.model.stamps import file_sha256
from isegan.training.pairs import PairFolder

LABELER_VERSION = "facemesh-colour-v1"
logger = logging.getLogger(__name__)


class PseudoLabelCache:
    def __init__(self, root: str | Path) -> None:
        self.root = Path(root) / LABELER_VERSION
        self.manifest_path = self.root / "manifest.json"

    def path(self, kind: str, pair_id: str) -> Path:
        return self.root / kind / f"{pair_id}.png"

    def _manifest(self) -> dict[str, dict[str, str]]:
        if self.manifest_path.is_file():
            return json.loads(self.manifest_path.read_text())
        return {}

    def build(self, folder: PairFolder, *, progress: bool = True) -> list[str]:
        """Label every pair of ``folder`` not labelled yet; return IDs with no face found."""
        from isegan.model.alignment.landmarks import FaceLandmarker
        from isegan.training.face_parser.pseudo_labels import NoFaceError, label_pair

        manifest = self._manifest()
        failed: list[str] = []
        todo = []
        for pair_id in folder.ids:
            source = {
                "photo": file_sha256(folder.photo_path(pair_id)),
                "sketch": file_sha256(folder.sketch_path(pair_id)),
            }
            fresh = manifest.get(pair_id) == source and all(
                self.path(kind, pair_id).is_file() for kind in ("photos", "sketches")
            )
            if not fresh:
                todo.append((pair_id, source))
        if not todo:
            return failed
        with FaceLandmarker() as landmarker:
            for pair_id, source in tqdm(todo, desc="pseudo-labels", disable=not progress):
                photo, sketch = folder.load_pair(pair_id)
                try:
                    labels = label_pair(landmarker, photo, sketch)
                except NoFaceError:
                    logger.warning("no face found in pair %s; left unlabelled", pair_id)
                    failed.append(pair_id)
                    continue
                for kind, class_map in (("photos", labels.photo), ("sketches", labels.sketch)):
                    target = self.path(kind, pair_id)
                    target.parent.mkdir(parents=True, exist_ok=True)
                    parsing_to_image(class_map).save(target)
                manifest[pair_id] = source
                self.manifest_path.write_text(json.dumps(manifest, indent=1, sort_keys=True))
        return failed

    def load(self, kind: str, pair_id: str) -> np.ndarray:
        with Image.open(self.path(kind, pair_id)) as image:
            return parsing_from_image(image)

    def has(self, pair_id: str) -> bool:
        return all(self.path(kind, pair_id).is_file() for kind in ("photos", "sketches"))
