"""Pair folders: clear errors that name the file, and the parser-keyed parsing cache."""

from __future__ import annotations

import shutil

import numpy as np
import pytest
import torch
from PIL import Image

from isegan.model.parsing import load_parser
from isegan.model.preprocess import Preprocess
from isegan.training.gan.config import build_config
from isegan.training.gan.data import PairDataset, ParsingCache, prepare_data
from isegan.training.pairs import DataError, PairFolder
from tests.helpers import write_parser_checkpoint
from tests.training.conftest import CPU


@pytest.fixture
def folder(cufs_dir, test_ids, tmp_path):
    for kind in ("photos", "sketches"):
        (tmp_path / kind).mkdir()
        for i in test_ids[:3]:
            shutil.copy(cufs_dir / kind / f"{i}.png", tmp_path / kind / f"{i}.png")
    (tmp_path / "mini.txt").write_text("\n".join(test_ids[:3]) + "\n")
    return tmp_path, test_ids[:3]


def test_a_good_folder_opens_and_records_its_split(folder) -> None:
    root, ids = folder
    pairs = PairFolder.open(root, "mini")
    assert pairs.ids == tuple(ids)
    photo, sketch = pairs.load_pair(ids[0])
    assert photo.shape == sketch.shape == (250, 200, 3)
    record = pairs.record()
    assert record.num_pairs == 3 and len(record.ids_sha256) == 64


def test_missing_split_list_and_missing_pair(folder) -> None:
    root, ids = folder
    with pytest.raises(DataError, match=r"split list not found: .*nope\.txt"):
        PairFolder.open(root, "nope")
    (root / "sketches" / f"{ids[1]}.png").unlink()
    with pytest.raises(
        DataError, match=rf"1 files of split 'mini' are missing: .*sketches/{ids[1]}\.png"
    ):
        PairFolder.open(root, "mini")


def test_unreadable_image_is_named(folder) -> None:
    root, ids = folder
    (root / "photos" / f"{ids[2]}.png").write_bytes(b"not an image")
    pairs = PairFolder.open(root, "mini")
    with pytest.raises(DataError, match=rf"photos/{ids[2]}\.png: not a readable image"):
        pairs.load_pair(ids[2])


def test_size_mismatch_names_both_files(folder) -> None:
    root, ids = folder
    path = root / "sketches" / f"{ids[0]}.png"
    Image.open(path).resize((100, 125)).save(path)
    with pytest.raises(
        DataError, match=rf"sketch .*{ids[0]}\.png is 100x125 but photo .* is 200x250"
    ):
        PairFolder.open(root, "mini").load_pair(ids[0])


def test_duplicate_and_empty_split_lists(folder) -> None:
    root, ids = folder
    (root / "dup.txt").write_text(f"{ids[0]}\n{ids[0]}\n")
    with pytest.raises(DataError, match="repeats IDs"):
        PairFolder.open(root, "dup")
    (root / "empty.txt").write_text("\n")
    with pytest.raises(DataError, match="is empty"):
        PairFolder.open(root, "empty")


def test_parsing_cache_is_keyed_by_parser(folder, tmp_path_factory) -> None:
    root, ids = folder
    pairs = PairFolder.open(root, "mini")
    folder_a = tmp_path_factory.mktemp("a")
    first = load_parser(write_parser_checkpoint(folder_a / "p1.safetensors", seed=1))
    second = load_parser(write_parser_checkpoint(folder_a / "p2.safetensors", seed=2))
    cache_root = tmp_path_factory.mktemp("cache")
    cache_1 = ParsingCache(cache_root, first.parser_id)
    cache_2 = ParsingCache(cache_root, second.parser_id)
    assert cache_1.folder != cache_2.folder
    cache_1.fill(pairs, first.parser, first.parser.mean.device, progress=False)
    assert all(cache_1.path(i).is_file() for i in ids)
    assert not any(cache_2.path(i).is_file() for i in ids)  # never reuses the other's maps
    maps = cache_1.load(ids[0])
    assert maps.sketch.shape == maps.photo.shape == (8, 256, 256)  # the whole canvas


def test_canvas_maps_are_what_inference_parses(tiny_pairs, parser_checkpoint, tmp_path) -> None:
    """frame="canvas" trains on the parser's output over the whole padded canvas (as the
    pipeline makes P_s); frame="crop" replicates the image region's border instead."""
    folder = PairFolder.open(tiny_pairs, "two")
    loaded = load_parser(parser_checkpoint, torch.device("cpu"), "auto")
    datasets = {}
    for frame in ("canvas", "crop"):
        cache = ParsingCache(tmp_path, loaded.parser_id, frame)
        cache.fill(folder, loaded.parser, torch.device("cpu"), progress=False)
        datasets[frame] = PairDataset(folder, cache, augment=False)
    assert len({p.name for p in tmp_path.iterdir()}) == 2  # separate caches
    _, sketch = folder.load_pair(folder.ids[0])
    canvas, _ = Preprocess().to_canvas(Image.fromarray(sketch))
    with torch.inference_mode():
        expected = loaded.parser(canvas[None])[0]
    canvas_map = datasets["canvas"][0]["sketch_parsing"]
    assert (canvas_map - expected).abs().max() < 2 / 255  # quantised to 8 bits, renormalised
    cropped_map = datasets["crop"][0]["sketch_parsing"]
    torch.testing.assert_close(cropped_map[:, 3:-3, 28:-28], canvas_map[:, 3:-3, 28:-28])
    assert torch.equal(cropped_map[:, :, 0], cropped_map[:, :, 27])  # replicated border
    assert not torch.equal(canvas_map[:, :, :28], cropped_map[:, :, :28])


def test_held_out_parsers_make_p_s_of_their_pairs_only(tiny_pairs, tmp_path) -> None:
    """Cross-fitting: each listed pair's P_s comes from the parser that never saw it; P_p
    and the other pairs' P_s from the run's parser; the cache is keyed by all of them."""
    parsers = {
        name: write_parser_checkpoint(tmp_path / f"{name}.safetensors", seed=seed)
        for name, seed in (("main", 1), ("fold", 2))
    }
    folder = PairFolder.open(tiny_pairs, "four")
    held, kept = folder.ids[:2], folder.ids[2:]
    (tmp_path / "fold.txt").write_text("\n".join(held) + "\n")
    config = build_config(
        "full",
        data__root=str(tiny_pairs),
        data__split="four",
        parser_weights=str(parsers["main"]),
        data__held_out_sketch_parsers=[
            {"parser": str(parsers["fold"]), "ids": str(tmp_path / "fold.txt")}
        ],
    )
    data = prepare_data(config, tmp_path / "run", CPU)
    assert data.parser_description.startswith(str(parsers["main"]))
    assert "P_s cross-fitted" in data.parser_description
    cache_folders = list((tmp_path / "run" / "parsing-cache").iterdir())
    assert len(cache_folders) == 1 and "-held-out-" in cache_folders[0].name
    main = load_parser(parsers["main"]).parser
    fold = load_parser(parsers["fold"]).parser
    preprocess = Preprocess()

    def parse(parser, image):
        canvas, _ = preprocess.to_canvas(Image.fromarray(image))
        with torch.inference_mode():
            return parser(canvas[None])[0]

    assert held and kept
    for pair_id in folder.ids:
        photo, sketch = folder.load_pair(pair_id)
        with np.load(cache_folders[0] / f"{pair_id}.npz") as item:
            stored_sketch, stored_photo = item["sketch"], item["photo"]
        sketch_by = fold if pair_id in held else main
        other = main if pair_id in held else fold
        stored = torch.from_numpy(stored_sketch.astype("float32")) / 255
        assert (stored - parse(sketch_by, sketch)).abs().max() < 1 / 255, pair_id
        assert (stored - parse(other, sketch)).abs().max() > 0.05, pair_id
        photo_map = torch.from_numpy(stored_photo.astype("float32")) / 255
        assert (photo_map - parse(main, photo)).abs().max() < 1 / 255, pair_id


def test_held_out_lists_must_be_disjoint_and_in_the_split(tiny_pairs, tmp_path) -> None:
    parser = write_parser_checkpoint(tmp_path / "p.safetensors", seed=3)
    ids = PairFolder.open(tiny_pairs, "four").ids
    (tmp_path / "a.txt").write_text(f"{ids[0]}\n{ids[1]}\n")
    (tmp_path / "b.txt").write_text(f"{ids[1]}\n")
    (tmp_path / "c.txt").write_text("not-a-pair\n")

    def prepare(*lists: str):
        config = build_config(
            "full",
            data__root=str(tiny_pairs),
            data__split="four",
            parser_weights=str(parser),
            data__held_out_sketch_parsers=[
                {"parser": str(parser), "ids": str(tmp_path / name)} for name in lists
            ],
        )
        return prepare_data(config, tmp_path / "run", CPU)

    with pytest.raises(ValueError, match="already held out by another parser"):
        prepare("a.txt", "b.txt")
    with pytest.raises(ValueError, match="not in the training split"):
        prepare("c.txt")


def test_a_holdout_list_keeps_its_pairs_out_of_training(
    folder, parser_checkpoint, tmp_path
) -> None:
    root, ids = folder
    holdout = tmp_path / "validation.txt"
    holdout.write_text(f"{ids[1]}\n")
    config = build_config(
        "full", data__root=str(root), data__split="mini", data__holdout=str(holdout),
        parser_weights=str(parser_checkpoint), model__generator__base_channels=8,
    )  # fmt: skip
    data = prepare_data(config, tmp_path / "run", CPU)
    assert data.folder.ids == (ids[0], ids[2]) and len(data.dataset) == 2
    assert data.folder.record().split == "mini-minus-validation"
    holdout.write_text("nobody\n")
    with pytest.raises(DataError, match="not in split 'mini'"):
        prepare_data(config, tmp_path / "run", CPU)


def test_only_keeps_the_listed_pairs_in_split_order(folder) -> None:
    root, ids = folder
    split = PairFolder.open(root, "mini")
    assert split.only([ids[2], ids[0]], "slice").ids == (ids[0], ids[2])
    with pytest.raises(DataError, match="1 pairs are not in split"):
        split.only(["nobody"], "slice")
