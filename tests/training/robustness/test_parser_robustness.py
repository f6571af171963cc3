"""parser_robustness: P_s of every rendering against the labels and against clean P_s.

The labels are the bundled parser's own P_s of the clean sketches (written by the test),
so for that parser the clean row must score exactly 1 and a rendering's two figures must
coincide; a different parser shows where they part.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image

from isegan.model.config import ParserConfig
from isegan.model.face_classes import ISEGAN_8
from isegan.model.networks.parser import BiSeNet
from isegan.model.parsing import FaceParser, load_parser
from isegan.model.pipeline import parse_sketches
from isegan.model.weights.pretrained import default_parser_path
from isegan.training.face_parser.robustness import (
    CLEAN,
    parser_robustness,
    robustness_markdown,
)
from isegan.training.face_parser.train import LabelledImage

CPU = torch.device("cpu")


@pytest.fixture(scope="module")
def labelled(cufs_dir, test_ids):
    parser = load_parser(default_parser_path(), CPU).parser
    ids = test_ids[:3]
    sketches = [Image.open(cufs_dir / "sketches" / f"{i}.png").convert("RGB") for i in ids]
    photos = [Image.open(cufs_dir / "photos" / f"{i}.png").convert("RGB") for i in ids]
    labels = parse_sketches(parser, sketches, device=CPU)
    return (
        parser,
        [
            LabelledImage(i, "sketches", s, lab)
            for i, s, lab in zip(ids, sketches, labels, strict=True)
        ],
        [LabelledImage(i, "photos", p, lab) for i, p, lab in zip(ids, photos, labels, strict=True)],
    )


def test_a_parser_agrees_with_itself_on_the_clean_sketch(labelled) -> None:
    parser, sketches, photos = labelled
    table = parser_robustness(parser, sketches, photos, device=CPU, kinds=("faint", "ink"))
    assert list(table) == [CLEAN, "faint", "ink"]
    assert table[CLEAN] == {"miou": 1.0, "agreement": 1.0}
    for kind in ("faint", "ink"):
        assert table[kind]["miou"] == pytest.approx(table[kind]["agreement"])
    assert table["ink"]["agreement"] < 1.0  # ink drops the shading the parser reads


def test_agreement_and_correctness_differ_for_another_parser(labelled) -> None:
    _, sketches, photos = labelled
    torch.manual_seed(0)
    config = ParserConfig(base_channels=8, label_scheme=ISEGAN_8.name, input_size=128)
    untrained = FaceParser(BiSeNet.from_config(config), config).eval()
    table = parser_robustness(untrained, sketches, photos, device=CPU, kinds=("faint",))
    assert table[CLEAN]["agreement"] == 1.0
    assert table[CLEAN]["miou"] < 0.5
    text = robustness_markdown({"untrained": table})
    assert "| faint |" in text and "mean over kinds" in text


def test_canonicalisation_is_applied_before_parsing(labelled) -> None:
    from isegan.model.canonicalise import CanonicaliseConfig

    parser, sketches, photos = labelled
    plain = parser_robustness(parser, sketches, photos, device=CPU, kinds=("faint",))
    canon = parser_robustness(
        parser, sketches, photos, device=CPU, kinds=("faint",),
        canonicalise_with=CanonicaliseConfig(),
    )  # fmt: skip
    assert canon["faint"] != plain["faint"]
    assert np.isfinite(canon["faint"]["miou"])


def test_one_photo_per_sketch(labelled) -> None:
    parser, sketches, photos = labelled
    with pytest.raises(ValueError, match="one photo per sketch"):
        parser_robustness(parser, sketches, photos[:2], device=CPU)
