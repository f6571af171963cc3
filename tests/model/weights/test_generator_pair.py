import pytest
import torch

from isegan.model.config import GeneratorConfig, IseganConfig
from isegan.model.networks.generator import StageOneGenerator, StageTwoGenerator
from isegan.model.weights.generator_pair import build_generators

SMALL = GeneratorConfig(base_channels=4, num_levels=5)


def _inputs(batch=2, size=64, seed=0):
    generator = torch.Generator().manual_seed(seed)
    sketch = torch.rand(batch, 3, size, size, generator=generator) * 2 - 1
    parsing = torch.softmax(torch.randn(batch, 8, size, size, generator=generator), 1)
    return sketch, parsing


def test_stage_one_shapes_and_ranges() -> None:
    g1 = StageOneGenerator(SMALL).eval()
    sketch, parsing = _inputs()
    out = g1(sketch, parsing)
    assert out.parsing.shape == (2, 8, 64, 64) and out.photo.shape == (2, 3, 64, 64)
    assert torch.allclose(out.parsing.sum(1), torch.ones(2, 64, 64), atol=1e-5)
    assert out.parsing.min() >= 0
    assert out.photo.min() >= -1 and out.photo.max() <= 1
    assert torch.allclose(out.parsing, out.parsing_logits.softmax(1))


def test_stage_two_shapes_and_ranges() -> None:
    g2 = StageTwoGenerator(SMALL).eval()
    sketch, parsing = _inputs()
    photo = g2(parsing, parsing, sketch)
    assert photo.shape == (2, 3, 64, 64)
    assert photo.min() >= -1 and photo.max() <= 1


def test_both_encoders_influence_the_output() -> None:
    torch.manual_seed(0)
    g1 = StageOneGenerator(SMALL).eval()
    sketch, parsing = _inputs()
    base = g1(sketch, parsing).photo
    assert not torch.allclose(base, g1(sketch, parsing.flip(-1)).photo)
    assert not torch.allclose(base, g1(-sketch, parsing).photo)


def test_base_model_has_no_parsing_encoder() -> None:
    g1 = StageOneGenerator(SMALL, use_sketch_parsing=False).eval()
    assert len(g1.unet.encoders) == 1
    sketch, _ = _inputs()
    assert g1(sketch).photo.shape == (2, 3, 64, 64)
    with pytest.raises(ValueError, match="pass sketch_parsing"):
        StageOneGenerator(SMALL)(sketch)


def test_the_unchecked_forward_pass_traces_with_torch_fx() -> None:
    """compute() is forward() without its checks, so that torch.fx (post-training
    quantisation, benchmarks/int8_trial.py) can build a graph of it."""
    unet = StageOneGenerator(SMALL).eval().unet

    class TwoInputs(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.unet = unet

        def forward(self, sketch: torch.Tensor, parsing: torch.Tensor) -> list[torch.Tensor]:
            return self.unet.compute(sketch, parsing)

    graph = torch.fx.symbolic_trace(TwoInputs())
    sketch, parsing = _inputs()
    with torch.no_grad():
        for traced, direct in zip(graph(sketch, parsing), unet(sketch, parsing), strict=True):
            assert torch.equal(traced, direct)


def test_size_not_divisible_is_refused() -> None:
    g1 = StageOneGenerator(SMALL)
    sketch, parsing = _inputs(size=48)
    with pytest.raises(ValueError, match="multiple of 32"):
        g1(sketch, parsing)


def test_dropout_only_in_train_mode_and_eval_is_deterministic() -> None:
    torch.manual_seed(0)
    g1 = StageOneGenerator(GeneratorConfig(base_channels=4, num_levels=6, dropout_levels=3))
    sketch, parsing = _inputs(size=64)
    g1.train()
    assert not torch.equal(g1(sketch, parsing).photo, g1(sketch, parsing).photo)
    g1.eval()
    assert torch.equal(g1(sketch, parsing).photo, g1(sketch, parsing).photo)


def test_invalid_config_values_are_named() -> None:
    with pytest.raises(ValueError, match="dropout_levels"):
        GeneratorConfig(num_levels=3, dropout_levels=3)
    with pytest.raises(ValueError, match="base_channels"):
        GeneratorConfig(base_channels=0)
    with pytest.raises(ValueError, match="extra"):
        GeneratorConfig.model_validate({"ngf": 64})


def _expected_unet_params(encoders: list[int], heads: list[int], ngf: int = 64) -> int:
    """Parameter count of the U-Net worked out from the architecture on paper:
    4x4 convs, BatchNorm (2 params/channel, no conv bias before it), 8 levels,
    channels ngf*(1, 2, 4, 8, 8, 8, 8, 8)."""
    c = [ngf * min(2**k, 8) for k in range(8)]
    e = len(encoders)
    total = 0
    for cin0 in encoders:
        total += cin0 * c[0] * 16 + c[0]  # outermost: conv with bias, no norm
        for k in range(1, 7):
            total += c[k - 1] * c[k] * 16 + 2 * c[k]  # conv (no bias) + BatchNorm
        total += c[6] * c[7] * 16 + c[7]  # innermost: conv with bias, no norm
    total += e * c[7] * c[6] * 16 + 2 * c[6]  # innermost up
    for k in range(6, 0, -1):  # up levels 7..2
        total += (c[k] + e * c[k]) * c[k - 1] * 16 + 2 * c[k - 1]
    for h in heads:
        total += (c[0] + e * c[0]) * h * 16 + h
    return total


def test_parameter_counts_at_paper_size() -> None:
    generators = build_generators(IseganConfig())
    g1 = sum(p.numel() for p in generators.stage1.parameters())
    assert generators.stage2 is not None
    g2 = sum(p.numel() for p in generators.stage2.parameters())
    print(f"\nparameters at ngf=64: G1 (DIP-GAN) {g1:,}  G2 (SE-GAN) {g2:,}")
    assert g1 == _expected_unet_params([3, 8], [8, 3])
    assert g2 == _expected_unet_params([16, 3], [3])
