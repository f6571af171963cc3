"""The public BiSeNet loader, tested with a state dict the test builds in the exact format
of face-parsing.PyTorch's ``79999_iter.pth`` (same key names and shapes, random values):
the real file cannot be downloaded here."""

from __future__ import annotations

import pickle

import pytest
import torch
import torch.nn.functional as F

from isegan.model.errors import WeightsError
from isegan.model.parsing import load_parser
from isegan.model.weights.third_party import load_public_bisenet


def public_bisenet_shapes(num_classes: int = 19) -> dict[str, tuple[int, ...]]:
    """Key -> shape of the released checkpoint, written from its architecture description."""
    shapes: dict[str, tuple[int, ...]] = {}

    def conv(name: str, cout: int, cin: int, k: int) -> None:
        shapes[f"{name}.weight"] = (cout, cin, k, k)

    def bn(name: str, c: int) -> None:
        for p in ("weight", "bias", "running_mean", "running_var"):
            shapes[f"{name}.{p}"] = (c,)
        shapes[f"{name}.num_batches_tracked"] = ()

    def conv_bn_relu(name: str, cin: int, cout: int, k: int) -> None:
        conv(f"{name}.conv", cout, cin, k)
        bn(f"{name}.bn", cout)

    conv("cp.resnet.conv1", 64, 3, 7)
    bn("cp.resnet.bn1", 64)
    for layer, (cin, cout) in enumerate([(64, 64), (64, 128), (128, 256), (256, 512)], 1):
        for block in (0, 1):
            prefix = f"cp.resnet.layer{layer}.{block}"
            conv(f"{prefix}.conv1", cout, cin if block == 0 else cout, 3)
            bn(f"{prefix}.bn1", cout)
            conv(f"{prefix}.conv2", cout, cout, 3)
            bn(f"{prefix}.bn2", cout)
            if block == 0 and layer > 1:
                conv(f"{prefix}.downsample.0", cout, cin, 1)
                bn(f"{prefix}.downsample.1", cout)
    for name, cin in (("cp.arm16", 256), ("cp.arm32", 512)):
        conv_bn_relu(f"{name}.conv", cin, 128, 3)
        conv(f"{name}.conv_atten", 128, 128, 1)
        bn(f"{name}.bn_atten", 128)
    conv_bn_relu("cp.conv_head32", 128, 128, 3)
    conv_bn_relu("cp.conv_head16", 128, 128, 3)
    conv_bn_relu("cp.conv_avg", 512, 128, 1)
    conv_bn_relu("ffm.convblk", 256, 256, 1)
    conv("ffm.conv1", 64, 256, 1)
    conv("ffm.conv2", 256, 64, 1)
    for name, cin, mid in (
        ("conv_out", 256, 256),
        ("conv_out16", 128, 64),
        ("conv_out32", 128, 64),
    ):
        conv_bn_relu(f"{name}.conv", cin, mid, 3)
        conv(f"{name}.conv_out", num_classes, mid, 1)
    return shapes


def random_public_state_dict(seed: int = 0) -> dict[str, torch.Tensor]:
    generator = torch.Generator().manual_seed(seed)
    state = {}
    for key, shape in public_bisenet_shapes().items():
        if key.endswith("num_batches_tracked"):
            state[key] = torch.tensor(80000)
        elif len(shape) == 1 and key.endswith(("running_var", "weight")):  # BatchNorm scales
            state[key] = torch.rand(shape, generator=generator) + 0.5
        else:
            fan_in = max(1, int(torch.tensor(shape[1:]).prod())) if len(shape) > 1 else 1
            state[key] = torch.randn(shape, generator=generator) / fan_in**0.5
    return state


def reference_forward(state: dict[str, torch.Tensor], x: torch.Tensor) -> torch.Tensor:
    """BiSeNet's eval-mode forward written directly with torch.nn.functional on the raw
    state dict: an independent reference for the module-based implementation."""

    def conv(name: str, h: torch.Tensor, stride: int = 1) -> torch.Tensor:
        w = state[f"{name}.weight"]
        return F.conv2d(h, w, stride=stride, padding=w.shape[-1] // 2)

    def bn(name: str, h: torch.Tensor) -> torch.Tensor:
        return F.batch_norm(
            h,
            state[f"{name}.running_mean"],
            state[f"{name}.running_var"],
            state[f"{name}.weight"],
            state[f"{name}.bias"],
            training=False,
            eps=1e-5,
        )

    def cbr(name: str, h: torch.Tensor) -> torch.Tensor:
        return F.relu(bn(f"{name}.bn", conv(f"{name}.conv", h)))

    def block(prefix: str, h: torch.Tensor, stride: int) -> torch.Tensor:
        out = F.relu(bn(f"{prefix}.bn1", conv(f"{prefix}.conv1", h, stride)))
        out = bn(f"{prefix}.bn2", conv(f"{prefix}.conv2", out))
        if f"{prefix}.downsample.0.weight" in state:
            h = bn(f"{prefix}.downsample.1", conv(f"{prefix}.downsample.0", h, stride))
        return F.relu(out + h)

    def arm(name: str, h: torch.Tensor) -> torch.Tensor:
        feat = cbr(f"{name}.conv", h)
        att = torch.sigmoid(
            bn(f"{name}.bn_atten", conv(f"{name}.conv_atten", feat.mean((2, 3), keepdim=True)))
        )
        return feat * att

    size = x.shape[-2:]
    h = F.max_pool2d(
        F.relu(
            bn("cp.resnet.bn1", F.conv2d(x, state["cp.resnet.conv1.weight"], stride=2, padding=3))
        ),
        3,
        2,
        1,
    )
    feats = []
    for layer in range(1, 5):
        h = block(f"cp.resnet.layer{layer}.0", h, 1 if layer == 1 else 2)
        h = block(f"cp.resnet.layer{layer}.1", h, 1)
        feats.append(h)
    f8, f16, f32 = feats[1], feats[2], feats[3]
    avg = cbr("cp.conv_avg", f32.mean((2, 3), keepdim=True))
    s32 = arm("cp.arm32", f32) + F.interpolate(avg, f32.shape[-2:], mode="nearest")
    up32 = cbr("cp.conv_head32", F.interpolate(s32, f16.shape[-2:], mode="nearest"))
    s16 = arm("cp.arm16", f16) + up32
    up16 = cbr("cp.conv_head16", F.interpolate(s16, f8.shape[-2:], mode="nearest"))
    fused = cbr("ffm.convblk", torch.cat([f8, up16], 1))
    att = torch.sigmoid(
        conv("ffm.conv2", F.relu(conv("ffm.conv1", fused.mean((2, 3), keepdim=True))))
    )
    fused = fused + fused * att
    logits = conv("conv_out.conv_out", cbr("conv_out.conv", fused))
    return F.interpolate(logits, size, mode="bilinear", align_corners=True)


@pytest.fixture(scope="module")
def public_weights(tmp_path_factory: pytest.TempPathFactory):
    state = random_public_state_dict()
    path = tmp_path_factory.mktemp("weights") / "79999_iter.pth"
    torch.save(state, path)
    return path, state


def test_public_checkpoint_loads_and_matches_reference(public_weights) -> None:
    path, state = public_weights
    network, config = load_public_bisenet(path)
    assert config.num_classes == 19 and config.input_size == 512
    x = torch.randn(1, 3, 128, 96, generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        ours = network.eval()(x).logits
        expected = reference_forward(state, x)
    assert ours.shape == (1, 19, 128, 96)
    torch.testing.assert_close(ours, expected, rtol=1e-4, atol=1e-4)


def test_every_network_key_comes_from_the_public_file(public_weights) -> None:
    path, state = public_weights
    network, _ = load_public_bisenet(path)
    assert set(network.state_dict()) == set(state)


def test_public_parser_gives_8_class_probabilities(public_weights) -> None:
    path, _ = public_weights
    loaded = load_parser(path)
    assert loaded.metadata is None and len(loaded.parser_id) == 64
    with torch.no_grad():
        probabilities = loaded.parser(torch.rand(2, 3, 64, 48) * 2 - 1)
    assert probabilities.shape == (2, 8, 64, 48)
    torch.testing.assert_close(probabilities.sum(1), torch.ones(2, 64, 48))


def test_wrapped_keys_are_unwrapped(public_weights, tmp_path) -> None:
    _, state = public_weights
    path = tmp_path / "ddp.pth"
    torch.save({"state_dict": {f"module.{k}": v for k, v in state.items()}}, path)
    network, _ = load_public_bisenet(path)
    torch.testing.assert_close(network.state_dict()["ffm.conv1.weight"], state["ffm.conv1.weight"])


def test_wrong_key_is_named(public_weights, tmp_path) -> None:
    _, state = public_weights
    broken = dict(state)
    broken["ffm.conv_one.weight"] = broken.pop("ffm.conv1.weight")
    path = tmp_path / "bad.pth"
    torch.save(broken, path)
    with pytest.raises(
        WeightsError,
        match=r"missing keys: ffm\.conv1\.weight.*unexpected keys: ffm\.conv_one\.weight",
    ):
        load_public_bisenet(path)


def test_wrong_shape_is_named(public_weights, tmp_path) -> None:
    _, state = public_weights
    broken = dict(state)
    broken["conv_out.conv_out.weight"] = torch.zeros(11, 256, 1, 1)  # a LaPa head, say
    path = tmp_path / "bad.pth"
    torch.save(broken, path)
    with pytest.raises(
        WeightsError,
        match=r"conv_out\.conv_out\.weight: file \(11, 256, 1, 1\) vs network \(19, 256, 1, 1\)",
    ):
        load_public_bisenet(path)


class _Exploit:
    def __reduce__(self):
        return (print, ("this must never run",))


def test_pickled_code_is_refused(tmp_path) -> None:
    path = tmp_path / "evil.pth"
    with open(path, "wb") as handle:
        pickle.dump({"x": _Exploit()}, handle)
    with pytest.raises(WeightsError, match="not a readable PyTorch state dict"):
        load_public_bisenet(path)


def test_missing_and_truncated_files(public_weights, tmp_path) -> None:
    with pytest.raises(WeightsError, match="not found"):
        load_public_bisenet(tmp_path / "nope.pth")
    path, _ = public_weights
    cut = tmp_path / "cut.pth"
    cut.write_bytes(path.read_bytes()[:1000])
    with pytest.raises(WeightsError, match="corrupt, truncated"):
        load_public_bisenet(cut)
