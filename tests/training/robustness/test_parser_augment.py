"""The parser trains on the same renderings as the generator, with the clean image's labels."""

from __future__ import annotations

import torch
from PIL import Image

from isegan.model.parsing import load_parser
from isegan.model.pipeline import parse_sketches
from isegan.model.weights.pretrained import default_parser_path
from isegan.training.face_parser.train import LabelledImage, ParserTrainConfig, train_parser


def _samples(cufs_dir, test_ids) -> list[LabelledImage]:
    """Four real sketches labelled by the bundled parser (labels only need to be real maps)."""
    parser = load_parser(default_parser_path(), torch.device("cpu")).parser
    images = [Image.open(cufs_dir / "sketches" / f"{i}.png").convert("RGB") for i in test_ids[:4]]
    labels = parse_sketches(parser, images, device=torch.device("cpu"))
    return [
        LabelledImage(i, "sketches", image, label)
        for i, image, label in zip(test_ids[:4], images, labels, strict=True)
    ]


def _weights(config: ParserTrainConfig, samples) -> list[torch.Tensor]:
    network, _, _ = train_parser(config, samples, device=torch.device("cpu"))
    return [p.detach().clone() for p in network.parameters()]


def test_augmented_parser_training_is_seeded_and_sees_the_renderings(cufs_dir, test_ids) -> None:
    samples = _samples(cufs_dir, test_ids)
    assert ParserTrainConfig().augmenter() is not None  # on by default, as measured
    plain = ParserTrainConfig(
        base_channels=8, input_size=128, epochs=1, batch_size=2,
        augment_photometric=0, augment_style=0,
    )  # fmt: skip
    assert plain.augmenter() is None
    augmented = plain.model_copy(update={"augment_photometric": 1.0, "augment_style": 0.5})
    assert augmented.augmenter() is not None
    first, again = _weights(augmented, samples), _weights(augmented, samples)
    assert all(torch.equal(a, b) for a, b in zip(first, again, strict=True))
    without = _weights(plain, samples)
    assert not all(torch.equal(a, b) for a, b in zip(first, without, strict=True))
    assert augmented.model_dump()["augment_style"] == 0.5  # recorded with the parser
