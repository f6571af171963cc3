"""The recipe options: each a config value that changes what it says, tested on real
steps with bundled pairs (ngf=8)."""

from __future__ import annotations

import json

import pytest
import torch

from isegan.model.config import GeneratorConfig, IseganConfig
from isegan.model.networks.discriminator import PatchDiscriminator
from isegan.model.networks.generator import StageTwoGenerator
from isegan.model.weights.generator_pair import build_generators, load_generators
from isegan.training.gan.config import build_config
from isegan.training.gan.data import collate
from isegan.training.gan.steps import StepContext, train_step

SMALL = GeneratorConfig(base_channels=4, num_levels=8)


def _records(folder):
    return [json.loads(line) for line in (folder / "losses.jsonl").read_text().splitlines()]


def test_resize_conv_decoder_has_no_transposed_convolutions() -> None:
    config = IseganConfig(generator=SMALL.model_copy(update={"upsample": "resize_conv"}))
    generators = build_generators(config)
    modules = [m for n in generators.networks().values() for m in n.modules()]
    assert not any(isinstance(m, torch.nn.ConvTranspose2d) for m in modules)
    assert any(isinstance(m, torch.nn.Upsample) for m in modules)
    out = generators.stage1(torch.zeros(1, 3, 256, 256), torch.zeros(1, 8, 256, 256))
    assert out.photo.shape == (1, 3, 256, 256)


def test_transposed_decoder_paints_a_checkerboard_and_resize_conv_does_not() -> None:
    """The reason for the option: a transposed 4x4/2 convolution on a constant input
    gives a periodic 2x2 pattern; resize-then-convolve gives a constant (inside)."""
    torch.manual_seed(0)
    constant = torch.ones(1, 4, 8, 8)
    for upsample, periodic in (("transposed", True), ("resize_conv", False)):
        from isegan.model.networks.generator import upsampling_conv

        layer = upsampling_conv(4, 1, SMALL.model_copy(update={"upsample": upsample}), bias=False)
        with torch.no_grad():
            inner = layer(constant)[0, 0, 2:-2, 2:-2]
        spread = float(inner.max() - inner.min())
        assert (spread > 1e-3) == periodic, upsample


def test_stage2_can_see_the_sketch_and_the_checkpoint_remembers(tmp_path) -> None:
    g2 = StageTwoGenerator(SMALL, sees_sketch=True).eval()
    parsing = torch.softmax(torch.randn(1, 8, 256, 256), 1)
    photo, sketch = torch.rand(1, 3, 256, 256), torch.rand(1, 3, 256, 256)
    with torch.no_grad():
        a = g2(parsing, parsing, photo, sketch)
        b = g2(parsing, parsing, photo, torch.zeros_like(sketch))
    assert not torch.equal(a, b)  # the sketch reaches the output
    with pytest.raises(ValueError, match="pass sketch"):
        g2(parsing, parsing, photo)
    assert g2.unet.encoders[1].levels[0].conv.in_channels == 6
    from isegan.model.weights.checkpoint import GeneratorMetadata, new_metadata_fields
    from isegan.model.weights.generator_pair import save_generators

    config = IseganConfig(generator=SMALL, stage2_sees_sketch=True)
    path = tmp_path / "g.safetensors"
    save_generators(
        path,
        build_generators(config),
        GeneratorMetadata(architecture=config, **new_metadata_fields()),
    )
    loaded = load_generators(path).generators
    assert loaded.config.stage2_sees_sketch and loaded.stage2 is not None
    assert loaded.stage2.sees_sketch


def test_spectral_norm_discriminator_has_unit_spectral_norm() -> None:
    config = build_config("full", overrides=("discriminators.face.spectral_norm=true",))
    network = PatchDiscriminator(11, config.discriminators.face)
    network.train()
    with torch.no_grad():
        for _ in range(30):  # power iterations converge over forward passes
            network(torch.randn(1, 11, 64, 64))
    network.eval()
    first = network.model[0]
    with torch.no_grad():
        weight = first.weight.reshape(first.weight.shape[0], -1)
        assert float(torch.linalg.matrix_norm(weight, ord=2)) == pytest.approx(1.0, abs=0.05)


def test_feature_matching_and_gradient_norms_are_logged(trainer_factory, tmp_path) -> None:
    trainer = trainer_factory(
        tmp_path, "full", max_steps=2,
        overrides=("loss.fm_weight=10", "grad_norm_every=1", "loss.pm_norm=rms"),
    )  # fmt: skip
    trainer.fit()
    records = _records(tmp_path)
    for record in records:
        assert record["g1_fm"] > 0 and record["g2_fm"] > 0
        for key in ("grad_g1_adv", "grad_g1_cmp", "grad_g1_pm", "grad_g1_fm", "grad_g2_adv",
                    "grad_g2_cmp", "grad_g2_fm"):  # fmt: skip
            assert record[key] > 0, key


def test_gradient_norms_match_a_direct_computation(trainer_factory, tmp_path) -> None:
    """grad_g1_pm is the norm of mu * dL_PM/d(trunk) that a separate backward gives."""
    trainer = trainer_factory(tmp_path, "stage1", max_steps=1)
    batch = collate([trainer.data.dataset[(0, i)] for i in range(2)])
    torch.manual_seed(0)
    context = StepContext(
        trainer.config, trainer.gan, trainer.wrapped, trainer.optimisers, torch.device("cpu")
    )
    trunk = [p for n, p in trainer.gan.stage1.named_parameters() if ".heads." not in n]
    from isegan.training.gan.losses import parsing_matching_loss

    trainer.gan.stage1.eval()  # no dropout: the same forward twice
    out = trainer.gan.stage1(batch["sketch"], batch["sketch_parsing"])
    pm = trainer.config.loss.pm_weight * parsing_matching_loss(
        batch["photo_parsing"], out.parsing, 0.3, trainer.config.loss.pm_norm
    )
    grads = torch.autograd.grad(pm, trunk, allow_unused=True)
    expected = float(torch.sqrt(sum(g.pow(2).sum() for g in grads if g is not None)))
    logs = train_step(context, batch, gradient_norms=True)
    assert logs["grad_g1_pm"] == pytest.approx(expected, rel=1e-3)


def test_ema_weights_are_exported_and_resume_exactly(trainer_factory, tmp_path) -> None:
    trainer = trainer_factory(tmp_path / "a", "full", max_steps=3, overrides=("ema_decay=0.5",))
    raw_before = [p.detach().clone() for p in trainer.gan.stage1.parameters()]
    trainer.fit()
    assert trainer.ema is not None
    raw = list(trainer.gan.stage1.parameters())
    average = list(trainer.ema.average.stage1.parameters())
    assert any(not torch.equal(r, a) for r, a in zip(raw, average, strict=True))
    assert any(not torch.equal(b, a) for b, a in zip(raw_before, average, strict=True))
    exported = load_generators(tmp_path / "a" / "generator.safetensors").generators
    for a, e in zip(average, exported.stage1.parameters(), strict=True):
        torch.testing.assert_close(e.float(), a.float())
    # resuming continues both the raw weights and the average
    resumed = trainer_factory(tmp_path / "b", "full", max_steps=3, overrides=("ema_decay=0.5",))
    resumed.load_state(tmp_path / "a" / "training-state.pt")
    assert resumed.ema is not None
    for a, b in zip(average, resumed.ema.average.stage1.parameters(), strict=True):
        assert torch.equal(a, b)


def test_ema_decay_warms_up_so_early_averages_follow_the_weights() -> None:
    """With a fixed decay of 0.999 the average after one step would still be 99.9 % the
    random initial weights; the warm-up makes the first update mostly the new weights and
    reaches the configured decay only after thousands of updates."""
    from isegan.training.gan.ema import GeneratorEMA

    torch.manual_seed(0)
    generators = build_generators(IseganConfig(generator=SMALL))
    ema = GeneratorEMA(generators, 0.999)
    initial = [p.detach().clone() for p in ema.average.stage1.parameters()]
    with torch.no_grad():
        for parameter in generators.stage1.parameters():
            parameter.add_(1.0)
    assert ema.current_decay() == pytest.approx(0.1)
    ema.update(generators)
    for before, now, raw in zip(
        initial, ema.average.stage1.parameters(), generators.stage1.parameters(), strict=True
    ):
        torch.testing.assert_close(now, 0.1 * before + 0.9 * raw)
    assert ema.updates == 1
    ema.updates = 100_000
    assert ema.current_decay() == pytest.approx(0.999)
    # the count travels with the state, so a resumed run continues the same schedule
    restored = GeneratorEMA(generators, 0.999)
    restored.load_state_dict(ema.state_dict())
    assert restored.updates == 100_000


def test_keep_every_keeps_a_loadable_generator_per_interval(trainer_factory, tmp_path) -> None:
    trainer = trainer_factory(tmp_path, "full", max_steps=2, overrides=("keep_every=1",))
    trainer.fit()
    kept = sorted((tmp_path / "generators").glob("*.safetensors"))
    assert [p.name for p in kept] == ["step-0000001.safetensors", "step-0000002.safetensors"]
    steps = [load_generators(p).metadata.training["steps"] for p in kept]
    assert steps == [1, 2]


@pytest.mark.parametrize(
    ("asked", "native", "runs"),
    [
        ("auto", False, "fp32"),
        ("bf16", False, "fp32"),
        ("auto", True, "bf16"),
        ("fp32", True, "fp32"),
    ],
)
def test_training_precision_resolves_to_what_the_device_runs(
    asked, native, runs, trainer_factory, tmp_path, monkeypatch
) -> None:
    """bf16 on a CPU without native bf16 is emulated (16x slower than fp32 measured on an
    AVX2 CPU), so the trainer runs fp32 there and records what it ran."""
    import isegan.model.inference_options as inference

    monkeypatch.setattr(inference, "native_bf16", lambda device: native)
    trainer = trainer_factory(tmp_path, "full", max_steps=1, precision=asked)
    assert trainer.config.precision == runs
    trainer.fit()
    recorded = load_generators(tmp_path / "generator.safetensors").metadata.training
    assert recorded["precision"] == runs
