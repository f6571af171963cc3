"""Colour hints measured on a split: each sketch hinted with its real photo's own colours.

    .venv/bin/python scripts/measure_colour_hints.py --data ../shared/data/cufs [--limit N]
        [--split train --ids training/splits/cufs-validation.txt]   # choose on this slice

For each pair the bundled pipeline makes the photo; the parser finds hair, skin and eyes
in the real photo and in the synthesised one; the hints are the real regions' mean
colours. Reported per region: the mean CIEDE2000 between the real and the synthesised
region's mean colour without and with the hints, the fall, FSIM, NLDA and the identity
metrics (rank-1, verification, TAR at 1 % FAR, AUC, distances) without and with (and the paired
FSIM difference with its standard error), and the hints' cost in ms per image. Writes
--out/colour-hints.json and a contact sheet of one sketch under several hair and skin
hints.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from isegan.model.colour.hints import PALETTES, ColourHint, HintRegion, apply_hints
from isegan.model.colour.spaces import ciede2000, srgb_to_cielab
from isegan.model.face_classes import FaceClass
from isegan.model.identity.face_recognition import load_face_recognizer
from isegan.model.pipeline import FacePipeline, parse_sketches
from isegan.model.weights.pretrained import default_generator_path, default_parser_path
from isegan.training.contact_sheet import contact_sheet
from isegan.training.evaluation.evaluate import greyscale, nlda_features
from isegan.training.evaluation.identity import IdentityGallery
from isegan.training.evaluation.quality.fsim import fsim
from isegan.training.evaluation.quality.nlda import nlda_accuracy
from isegan.training.pairs import PairFolder, read_id_list

REGIONS = {HintRegion.HAIR: FaceClass.HAIR, HintRegion.SKIN: FaceClass.SKIN,
           HintRegion.EYES: FaceClass.EYES}  # fmt: skip


def mean_colour(image: Image.Image, class_map: np.ndarray, face_class: int) -> np.ndarray | None:
    mask = class_map == face_class
    if mask.sum() < 20:
        return None
    return np.asarray(image.convert("RGB"), dtype=np.float64)[mask].mean(axis=0) / 255


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, required=True)
    parser.add_argument("--split", default="test")
    parser.add_argument("--limit", type=int)
    parser.add_argument(
        "--ids", type=Path, help="a file of pair ids (one per line) from the split to measure on"
    )
    parser.add_argument("--out", type=Path, default=Path("runs/colour-hints"))
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    folder = PairFolder.open(args.data, args.split)
    if args.ids is not None:
        folder = folder.only(read_id_list(args.ids), args.ids.stem)
    ids = list(folder.ids[: args.limit])
    pipeline = FacePipeline.from_files(default_generator_path(), default_parser_path())
    pairs = [folder.load_pair(i) for i in ids]
    real = [Image.fromarray(photo) for photo, _ in pairs]
    sketches = [Image.fromarray(sketch) for _, sketch in pairs]
    results = [
        r for s in range(0, len(ids), 8) for r in pipeline(sketches[s : s + 8], align="false")
    ]
    photos = [r.photo for r in results]
    device = torch.device("cpu")
    real_maps = parse_sketches(pipeline.parser, real, device=device)
    hinted, seconds = [], 0.0
    errors: dict[str, dict[str, list[float]]] = {
        r.value: {"without": [], "with": []} for r in REGIONS
    }
    for photo, result, real_photo, real_map in zip(photos, results, real, real_maps, strict=True):
        hints = []
        for region, face_class in REGIONS.items():
            colour = mean_colour(real_photo, real_map, face_class)
            if colour is not None:
                hints.append(
                    ColourHint.parse(region, "#" + "".join(f"{round(c * 255):02x}" for c in colour))
                )
        started = time.perf_counter()
        recoloured, _ = apply_hints(photo, result.intermediate_parsing, hints)
        seconds += time.perf_counter() - started
        hinted.append(recoloured)
        maps = parse_sketches(pipeline.parser, [photo, recoloured], device=device)
        for region, face_class in REGIONS.items():
            target = mean_colour(real_photo, real_map, face_class)
            for key, image, class_map in (
                ("without", photo, maps[0]),
                ("with", recoloured, maps[1]),
            ):
                made = mean_colour(image, class_map, face_class)
                if target is not None and made is not None:
                    errors[region.value][key].append(
                        float(ciede2000(srgb_to_cielab(target), srgb_to_cielab(made)))
                    )
    gallery = IdentityGallery.from_folder(load_face_recognizer(None), folder.root / "photos")
    report: dict[str, object] = {"pairs": len(ids), "ms_per_image": 1000 * seconds / len(ids)}
    for region, values in errors.items():
        without, with_ = float(np.mean(values["without"])), float(np.mean(values["with"]))
        report[f"ciede2000_{region}"] = {
            "without": without, "with": with_, "fall": 1 - with_ / without,
            "pairs": len(values["with"]),
        }  # fmt: skip
    per_pair = {}
    grey_real = [greyscale(image) for image in real]
    real_features = nlda_features(grey_real, "whole")
    for key, images in (("without", photos), ("with", hinted)):
        grey = [greyscale(image) for image in images]
        per_pair[key] = np.array([fsim(a, b) for a, b in zip(grey_real, grey, strict=True)])
        report[f"fsim_{key}"] = float(per_pair[key].mean())
        # the eval's NLDA, whole image
        accuracy = nlda_accuracy(real_features, nlda_features(grey, "whole")).accuracy
        report[f"nlda_{key}"] = 100 * accuracy
        identity = gallery.score(ids, images)
        report[f"rank1_{key}"] = identity.rank1
        report[f"identity_{key}"] = identity.as_dict()
    difference = per_pair["with"] - per_pair["without"]
    report["fsim_difference"] = {  # paired, so its noise is the pairs' spread, not FSIM's
        "mean": float(difference.mean()),
        "standard_error": float(difference.std(ddof=1) / np.sqrt(len(difference))),
    }
    (args.out / "colour-hints.json").write_text(json.dumps(report, indent=2))
    print(json.dumps(report, indent=2))
    # one sketch, several hair and skin hints
    example = results[0]
    rows = []
    for skin in ("1", "3", "5", "6"):
        row = [sketches[0], photos[0]]
        for hair in ("black", "brown", "blond", "red", "grey"):
            hints = [ColourHint.parse("skin", skin), ColourHint.parse("hair", hair)]
            row.append(apply_hints(photos[0], example.intermediate_parsing, hints)[0])
        rows.append(row)
    captions = [
        f"skin {s}: sketch | no hint | hair "
        + ", ".join(("black", "brown", "blond", "red", "grey"))
        for s in ("1", "3", "5", "6")
    ]
    contact_sheet(rows, captions=captions, legend=False).save(args.out / "colour-hints-sheet.png")
    assert set(PALETTES) == set(REGIONS)


if __name__ == "__main__":
    main()
