"""The VGG-19 loader, tested with a torchvision-format state dict the test creates
(random values; ImageNet weights cannot be downloaded here)."""

import pytest
import torch
from torchvision.models import vgg19

from isegan.model.errors import WeightsError
from isegan.model.networks.vgg import PERCEPTUAL_TAPS
from isegan.model.weights.third_party import load_vgg19_features


@pytest.fixture(scope="module")
def vgg_file(tmp_path_factory: pytest.TempPathFactory):
    torch.manual_seed(0)
    reference = vgg19(weights=None).eval()
    path = tmp_path_factory.mktemp("vgg") / "vgg19.pth"
    torch.save(reference.state_dict(), path)  # features.* and classifier.* keys
    return path, reference


def test_taps_are_relu_after_conv1_1_conv3_4_conv4_1() -> None:
    layers = vgg19(weights=None).features
    convs = [i for i, layer in enumerate(layers) if isinstance(layer, torch.nn.Conv2d)]
    # conv1_1 is the 1st conv, conv3_4 the 8th, conv4_1 the 9th; each tap is the ReLU after it.
    assert (convs[0] + 1, convs[7] + 1, convs[8] + 1) == PERCEPTUAL_TAPS
    assert all(isinstance(layers[i], torch.nn.ReLU) for i in PERCEPTUAL_TAPS)


def test_loaded_features_match_torchvision(vgg_file) -> None:
    path, reference = vgg_file
    features = load_vgg19_features(path)
    image = torch.rand(2, 3, 64, 64) * 2 - 1
    mean = torch.tensor([0.485, 0.456, 0.406]).view(1, 3, 1, 1)
    std = torch.tensor([0.229, 0.224, 0.225]).view(1, 3, 1, 1)
    x = ((image + 1) / 2 - mean) / std
    expected = []
    with torch.no_grad():
        for index, layer in enumerate(reference.features[:21]):
            x = layer(x)
            if index in PERCEPTUAL_TAPS:
                expected.append(x.clone())
        ours = features(image)
    assert [t.shape[1] for t in ours] == [64, 256, 512]
    for got, want in zip(ours, expected, strict=True):
        torch.testing.assert_close(got, want)
    assert not any(p.requires_grad for p in features.parameters())


def test_wrong_shape_and_wrong_file_are_reported(vgg_file, tmp_path) -> None:
    _, reference = vgg_file
    state = reference.state_dict()
    state["features.19.weight"] = torch.zeros(512, 128, 3, 3)
    bad = tmp_path / "bad.pth"
    torch.save(state, bad)
    with pytest.raises(WeightsError, match=r"19\.weight: file \(512, 128, 3, 3\)"):
        load_vgg19_features(bad)
    other = tmp_path / "other.pth"
    torch.save({"conv1.weight": torch.zeros(1)}, other)
    with pytest.raises(WeightsError, match="no 'features"):
        load_vgg19_features(other)
