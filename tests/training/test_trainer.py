"""Training runs end to end: overfitting, exact resume, learning-rate decay, outputs."""

from __future__ import annotations

import json

import pytest
import torch

from isegan.model.networks.discriminator import PatchDiscriminator
from isegan.training.gan.config import PRESETS, DiscriminatorsConfig, build_config
from isegan.training.gan.data import collate
from isegan.training.gan.portable_state import portable_state


def _l1_to_real(trainer, batch) -> float:
    """Mean |Y2 - Y| on fixed pairs, in eval mode."""
    gan = trainer.gan
    gan.stage1.eval()
    gan.stage2.eval()
    with torch.no_grad():
        out = gan.stage1(batch["sketch"], batch["sketch_parsing"])
        y2 = gan.stage2(batch["sketch_parsing"], out.parsing, out.photo)
    gan.stage1.train()
    gan.stage2.train()
    return float((y2 - batch["photo"]).abs().mean())


@pytest.mark.slow  # 120 training steps: about a minute on two cores
def test_overfitting_two_pairs_brings_y2_close_to_the_photo(trainer_factory, tmp_path) -> None:
    trainer = trainer_factory(
        tmp_path,
        "full",
        width=16,
        split="two",
        max_steps=120,
        overrides=("data.flip=false", "data.load_size=256"),
    )
    batch = collate([trainer.data.dataset.items[i] for i in range(2)])
    start = _l1_to_real(trainer, batch)
    trainer.fit()
    end = _l1_to_real(trainer, batch)
    print(f"\nL1(Y2, Y): {start:.3f} -> {end:.3f}")
    assert end < 0.6 * start


def test_resume_continues_exactly(trainer_factory, tmp_path) -> None:
    straight = trainer_factory(tmp_path / "straight", "full", max_steps=4)
    straight.fit()

    first = trainer_factory(tmp_path / "resumed", "full", max_steps=2)
    first.fit()
    second = trainer_factory(tmp_path / "resumed", "full", max_steps=4)
    second.load_state(tmp_path / "resumed" / "training-state.pt")
    assert second.step == 2
    second.fit()

    for (name, a), (_, b) in zip(
        straight.gan.named_networks(), second.gan.named_networks(), strict=True
    ):
        for key, value in a.state_dict().items():
            torch.testing.assert_close(
                value, b.state_dict()[key], rtol=1e-5, atol=1e-6, msg=f"{name}.{key}"
            )
    straight_log = (tmp_path / "straight" / "losses.jsonl").read_text().splitlines()
    resumed_log = (tmp_path / "resumed" / "losses.jsonl").read_text().splitlines()
    assert [json.loads(r)["g1_total"] for r in straight_log] == [
        json.loads(r)["g1_total"] for r in resumed_log
    ]


def test_run_outputs_and_linear_decay(trainer_factory, tmp_path) -> None:
    trainer = trainer_factory(
        tmp_path, "stage1", max_steps=4, overrides=("optim.decay_second_half=true",)
    )
    trainer.fit()
    records = [json.loads(line) for line in (tmp_path / "losses.jsonl").read_text().splitlines()]
    assert [r["step"] for r in records] == [1, 2, 3, 4]
    assert [r["lr"] for r in records] == [2e-4, 2e-4, 2e-4, 1e-4]  # rate used by each step
    assert all(0 <= r["data_wait_fraction"] <= 1 for r in records)
    assert (tmp_path / "samples" / "step-0000004.png").is_file()
    assert json.loads((tmp_path / "config.json").read_text())["preset"] == "stage1"
    assert (tmp_path / "training-state.pt").is_file()


@pytest.mark.parametrize("preset", PRESETS)
@pytest.mark.parametrize(
    "how",
    [
        {},
        {"discriminator_channels": 32},  # --ndf 32
        {"discriminators__final__base_channels": 32},
        {"overrides": ("discriminators.final.base_channels=16",)},
        {"overrides": ("discriminators.final.norm=instance",)},
    ],
)
def test_d2_stays_16x16_whatever_is_overridden(preset, how) -> None:
    """--ndf and --set on D2's width or norm keep its one layer (16x16 patches); the
    other discriminators keep their three (70x70)."""
    config = build_config(preset, **how)
    if "discriminator_channels" in how:  # --ndf reaches every discriminator
        assert {
            getattr(config.discriminators, name).base_channels
            for name in DiscriminatorsConfig.networks()
        } == {32}
    assert config.discriminators.final.num_layers == 1
    assert config.discriminators.face.num_layers == 3
    assert config.discriminators.parsing.num_layers == 3
    network = PatchDiscriminator(6, config.discriminators.final)
    assert receptive_field(network) == 16
    face = PatchDiscriminator(6, config.discriminators.face)
    assert receptive_field(face) == 70


def receptive_field(network: torch.nn.Module) -> int:
    """Receptive field of a stack of convolutions, from their kernels and strides."""
    convolutions = [m for m in network.modules() if isinstance(m, torch.nn.Conv2d)]
    field, jump = 1, 1
    for conv in convolutions:
        field += (conv.kernel_size[0] - 1) * jump
        jump *= conv.stride[0]
    return field


def test_init_from_a_committed_fp16_checkpoint(trainer_factory, tmp_path) -> None:
    """A run whose state is gone continues from the committed weights: G1/G2 start from
    the (fp16) checkpoint, and the new checkpoint names it."""
    from isegan.model.stamps import file_sha256
    from isegan.model.weights.checkpoint import GeneratorMetadata, read_checkpoint
    from isegan.model.weights.generator_pair import load_generators, save_generators

    first = trainer_factory(tmp_path / "first", "full", max_steps=2)
    first.fit()
    loaded = load_generators(tmp_path / "first" / "generator.safetensors")
    half = tmp_path / "committed.safetensors"
    save_generators(half, loaded.generators, loaded.metadata, dtype=torch.float16)
    second = trainer_factory(tmp_path / "second", "full", max_steps=1)
    second.init_generators(half)
    for a, b in zip(
        loaded.generators.stage1.parameters(), second.gan.stage1.parameters(), strict=True
    ):
        torch.testing.assert_close(b, a.half().float())
    second.fit()
    _, metadata = read_checkpoint(tmp_path / "second" / "generator.safetensors", GeneratorMetadata)
    assert metadata.training is not None
    assert metadata.training["initialised_from"] == file_sha256(half)
    other = trainer_factory(tmp_path / "other", "full", max_steps=1, width=16)
    with pytest.raises(ValueError, match="another architecture"):
        other.init_generators(half)


def _lrs(path) -> list[float]:
    return [json.loads(line)["lr"] for line in path.read_text().splitlines()]


def test_a_portable_state_continues_the_count_the_schedule_and_every_network(
    trainer_factory, tmp_path
) -> None:
    decay = ("optim.decay_second_half=true", "ema_decay=0.9")
    first = trainer_factory(tmp_path / "run", "full", max_steps=2, overrides=decay)
    first.fit()
    state = torch.load(tmp_path / "run" / "training-state.pt", weights_only=True)
    packed = portable_state(state)
    assert "optimisers" not in packed
    torch.save(packed, tmp_path / "carry.pt")
    assert (tmp_path / "carry.pt").stat().st_size < 0.5 * (
        tmp_path / "run" / "training-state.pt"
    ).stat().st_size

    second = trainer_factory(tmp_path / "moved", "full", max_steps=4, overrides=decay)
    how = second.resume(tmp_path / "carry.pt")
    assert "portable" in how
    assert second.step == 2
    assert second.ema is not None and second.ema.updates == 2
    assert second.optimisers["stage1"].param_groups[0]["lr"] == 2e-4
    for (name, a), (_, b) in zip(
        first.gan.named_networks(), second.gan.named_networks(), strict=True
    ):
        for key, value in a.state_dict().items():
            torch.testing.assert_close(
                value.float(), b.state_dict()[key].float(), rtol=1e-3, atol=1e-3, msg=name
            )
    second.fit()
    assert second.step == 4
    assert _lrs(tmp_path / "moved" / "losses.jsonl") == [2e-4, 1e-4]


def test_a_generator_checkpoint_continues_the_count_with_its_weights(
    trainer_factory, tmp_path
) -> None:
    decay = ("optim.decay_second_half=true", "ema_decay=0.9")
    first = trainer_factory(tmp_path / "run", "full", max_steps=3, overrides=decay)
    first.fit()
    second = trainer_factory(tmp_path / "moved", "full", max_steps=4, overrides=decay)
    how = second.resume(tmp_path / "run" / "generator.safetensors")
    assert "generators only" in how
    assert second.step == 3
    assert second.optimisers["stage2"].param_groups[0]["lr"] == 1e-4  # 4 - 3 of 2 halves
    exported = first.exported_generators().networks()
    for name, network in second.gan.generators().networks().items():
        for key, value in network.state_dict().items():
            torch.testing.assert_close(value, exported[name].state_dict()[key], msg=name)
    other = trainer_factory(tmp_path / "other", "stage1", max_steps=4)
    with pytest.raises(ValueError, match="preset"):
        other.resume(tmp_path / "run" / "generator.safetensors")
