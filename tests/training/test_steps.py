"""One real optimisation step of every Table 2 preset on bundled pairs (CPU, ngf=8)."""

from __future__ import annotations

import pytest
import torch

from isegan.model.pipeline import FacePipeline
from isegan.training.gan.config import PRESETS, build_config
from isegan.training.gan.data import collate
from isegan.training.gan.steps import StepContext, train_step

# Which networks an iteration must update, and whether G1's parsing head (P_int) learns.
EXPECTED = {
    "base": ({"stage1", "face_discriminator"}, False),
    "per": ({"stage1", "face_discriminator"}, False),
    "cmp": ({"stage1", "face_discriminator"}, False),
    "pm": ({"stage1", "face_discriminator"}, True),
    "stage1": ({"stage1", "face_discriminator", "parsing_discriminator"}, True),
    "full": (
        {"stage1", "stage2", "face_discriminator", "parsing_discriminator", "final_discriminator"},
        True,
    ),
}
EXPECTED["recommended"] = EXPECTED["full"]


def test_presets_cover_table_2() -> None:
    assert set(PRESETS) == set(EXPECTED)


def test_recommended_preset_is_full_with_the_chosen_recipe_fixes() -> None:
    full, chosen = build_config("full"), build_config("recommended")
    assert chosen.model.stage2_sees_sketch and chosen.model.generator.upsample == "resize_conv"
    assert (chosen.loss.pm_norm, chosen.loss.pm_weight, chosen.loss.id_weight) == ("rms", 40, 10)
    assert chosen.ema_decay == 0.999
    assert (chosen.augment.photometric, chosen.augment.style) == (0.5, 0.3)
    assert not full.augment.enabled  # the paper's presets train on the sketches as drawn
    # everything else is the paper's full model
    assert chosen.discriminators == full.discriminators
    assert (
        chosen.loss.model_copy(update={"pm_norm": "l2", "pm_weight": 10.0, "id_weight": 0.0})
        == full.loss
    )


@pytest.mark.parametrize("preset", sorted(EXPECTED))
def test_one_step_trains_exactly_the_right_parameters(
    preset, trainer_factory, vgg_file, tmp_path
) -> None:
    extra = {"vgg19_weights": str(vgg_file)} if preset == "per" else {}
    trainer = trainer_factory(tmp_path, preset, max_steps=1, **extra)
    networks = dict(trainer.gan.named_networks())
    updated, parsing_head_learns = EXPECTED[preset]
    assert set(networks) == updated
    if preset == "per":
        assert trainer.perceptual is not None
    before = {name: [p.detach().clone() for p in n.parameters()] for name, n in networks.items()}
    batch = collate([trainer.data.dataset[(0, i)] for i in range(2)])
    context = StepContext(
        trainer.config,
        trainer.gan,
        trainer.wrapped,
        trainer.optimisers,
        torch.device("cpu"),
        perceptual=trainer.perceptual,
    )
    logs = train_step(context, batch)
    assert all(torch.isfinite(torch.tensor(v)) for v in logs.values())
    if preset == "per":
        assert "g1_per" in logs
    if preset == "full":
        assert {"d_face", "d_parsing", "d_final", "g1_pm", "g1_cmp", "g2_cmp", "g2_adv"} <= set(
            logs
        )

    parsing_head = set(map(id, trainer.gan.stage1.unet.heads[0].parameters()))
    for name, network in networks.items():
        for parameter, old in zip(network.parameters(), before[name], strict=True):
            in_parsing_head = id(parameter) in parsing_head
            should_learn = not in_parsing_head or parsing_head_learns
            label = f"{preset}: {name} {tuple(parameter.shape)}"
            if should_learn:
                assert parameter.grad is not None and parameter.grad.abs().sum() > 0, label
                assert not torch.equal(parameter, old), label
            else:
                assert parameter.grad is None, label
                assert torch.equal(parameter, old), label


@pytest.mark.parametrize("preset", ["base", "stage1"])
def test_single_stage_presets_export_a_servable_checkpoint(
    preset, trainer_factory, parser_checkpoint, cufs_sketches, tmp_path
) -> None:
    trainer = trainer_factory(tmp_path, preset, max_steps=1)
    trainer.fit()
    pipeline = FacePipeline.from_files(
        tmp_path / "generator.safetensors", parser_checkpoint, device="cpu"
    )
    (result,) = pipeline(cufs_sketches[:1])
    assert result.photo.size == (200, 250)
    assert not pipeline.two_stage
    training = pipeline.metadata.training
    assert training["preset"] == preset and training["steps"] == 1
    assert pipeline.metadata.data.num_pairs == 4


def test_paper_weights_and_overrides() -> None:
    config = build_config("full")
    assert (config.loss.cmp_weight, config.loss.per_weight, config.loss.pm_weight) == (10, 5, 10)
    assert config.loss.alpha == 0.3 and config.optim.learning_rate == 2e-4
    assert (config.optim.beta1, config.optim.beta2) == (0.5, 0.999)
    changed = build_config(
        "full", overrides=["loss.gan_mode=lsgan", "optim.decay_second_half=true"]
    )
    assert changed.loss.gan_mode == "lsgan" and changed.optim.decay_second_half
    with pytest.raises(ValueError, match="unknown preset"):
        build_config("nope")
    with pytest.raises(ValueError, match=r"loss\.alpha"):
        build_config("full", overrides=["loss.alpha=2"])
    with pytest.raises(ValueError, match=r"loss\.lambda: Extra inputs"):
        build_config("full", overrides=["loss.lambda=3"])


def test_config_file_and_cli_fields(tmp_path) -> None:
    path = tmp_path / "run.toml"
    path.write_text(
        'epochs = 5\n[loss]\ngan_mode = "lsgan"\n[model.generator]\nbase_channels = 16\n'
    )
    config = build_config("stage1", file=path, batch_size=4, overrides=["epochs=7"])
    assert config.epochs == 7 and config.batch_size == 4
    assert config.loss.gan_mode == "lsgan" and config.model.generator.base_channels == 16
    assert config.model.stages == 1
