"""The training loop: networks, optimisers, logging, samples, checkpoints, resume.

``Trainer.fit`` is what ``isegan train`` runs, in one process or under torchrun. Only
rank 0 writes files. A resumed run continues exactly: networks, optimisers, schedulers,
gradient scaler, RNG state and the position in the epoch are all restored.

Two lighter ways to continue keep the step count, the learning-rate schedule and the
epoch position, for a run whose full state (hundreds of MB with Adam's moments) could
not be kept: a *portable* state (``portable_state.py``: every network in fp16, the EMA, the
step, no optimiser moments, tens of MB, small enough to commit), and a generator
checkpoint of the run itself (G1/G2 and their average from its weights, fresh
discriminators). Adam re-estimates its moments within a few dozen steps.
"""

from __future__ import annotations

import json
import logging
import time
from pathlib import Path
from typing import Any

import torch
from torch import nn
from torch.utils.data import DataLoader
from tqdm import tqdm

from isegan.model.inference_options import resolve_precision
from isegan.model.stamps import file_sha256
from isegan.model.weights.checkpoint import GeneratorMetadata, ParserRecord, new_metadata_fields
from isegan.model.weights.generator_pair import Generators, load_generators, save_generators
from isegan.training.gan.config import TrainConfig
from isegan.training.gan.data import EpochSampler, RunData, collate
from isegan.training.gan.distributed import DistributedContext, barrier, wrap
from isegan.training.gan.ema import GeneratorEMA
from isegan.training.gan.optimisation import build_optimisers, build_schedulers
from isegan.training.gan.portable_state import PORTABLE_MARK
from isegan.training.gan.samples import sample_grid
from isegan.training.gan.steps import StepContext, train_step
from isegan.training.gan.two_stage_gan import (
    TwoStageGAN,
    face_perceptual_network,
    perceptual_network,
)
from isegan.training.robustness.augment import SketchAugmenter
from isegan.training.robustness.batches import augment_batch

logger = logging.getLogger(__name__)
STATE_FILE = "training-state.pt"
GENERATOR_FILE = "generator.safetensors"


def _tensorboard_writer(out: Path) -> Any:
    """A TensorBoard writer when the tensorboard package is installed, else None."""
    try:
        from torch.utils.tensorboard import SummaryWriter
    except ImportError:
        return None
    return SummaryWriter(log_dir=str(out / "tensorboard"))


class Trainer:
    """Holds one run's state; ``fit`` trains to the configured number of steps."""

    def __init__(
        self,
        config: TrainConfig,
        out: Path,
        context: DistributedContext,
        *,
        data: RunData,
        progress: bool = True,
    ) -> None:
        device = context.device
        # The checkpoint and the steps see the precision this device actually runs.
        config = config.model_copy(
            update={"precision": resolve_precision(config.precision, device)}
        )
        self.config = config
        self.out = out
        self.context = context
        self.data = data
        self.progress = progress and context.is_main
        torch.manual_seed(config.seed)
        self.gan = TwoStageGAN(config).to(device)
        if config.channels_last:
            self.gan.to(memory_format=torch.channels_last)
        self.wrapped: dict[str, nn.Module] = {
            name: wrap(network, context) for name, network in self.gan.named_networks()
        }
        if config.compile:
            self.wrapped = {name: torch.compile(n) for name, n in self.wrapped.items()}  # type: ignore[misc]
        self.sampler = EpochSampler(
            len(data.dataset), seed=config.seed, batch_size=config.batch_size,
            rank=context.rank, world_size=context.world_size,
        )  # fmt: skip
        self.steps_per_epoch = self.sampler.batches_per_epoch()
        self.total_steps = config.max_steps or config.epochs * self.steps_per_epoch
        self.optimisers = build_optimisers(self.gan, config)
        self.schedulers = build_schedulers(self.optimisers, config, self.total_steps)
        self.scaler = torch.amp.GradScaler(
            device.type, enabled=config.precision == "fp16" and device.type == "cuda"
        )
        self.perceptual = perceptual_network(config, device)
        self.face = face_perceptual_network(config, device, self.perceptual is not None)
        self.ema = (
            GeneratorEMA(self.gan.generators(), config.ema_decay) if config.ema_decay else None
        )
        self.step = 0
        self.seconds = 0.0
        self.initialised_from: str | None = None
        self.fixed_batch = collate(
            [data.dataset.items[i] for i in range(min(4, len(data.dataset)))]
        )
        self.tensorboard = _tensorboard_writer(out) if context.is_main else None
        self.augmenter = SketchAugmenter(config.augment) if config.augment.enabled else None

    # -- state ---------------------------------------------------------------------------
    def state_dict(self) -> dict[str, Any]:
        state: dict[str, Any] = {
            "config": self.config.model_dump_json(),
            "step": self.step,
            "seconds": self.seconds,
            "networks": {name: n.state_dict() for name, n in self.gan.named_networks()},
            "optimisers": {name: o.state_dict() for name, o in self.optimisers.items()},
            "schedulers": {name: s.state_dict() for name, s in self.schedulers.items()},
            "scaler": self.scaler.state_dict(),
            "rng_cpu": torch.get_rng_state(),
        }
        if self.ema is not None:
            state["ema"] = self.ema.state_dict()
        if torch.cuda.is_available():
            state["rng_cuda"] = torch.cuda.get_rng_state_all()
        return state

    def save_state(self) -> Path:
        path = self.out / STATE_FILE
        temporary = path.with_suffix(".tmp")
        torch.save(self.state_dict(), temporary)
        temporary.replace(path)
        return path

    def init_generators(self, path: Path) -> None:
        """Start G1 and G2 from a generator checkpoint's weights (fp16 files included):
        the way a run continues from committed weights when its training state is gone.
        Discriminators and optimisers start fresh; the architecture must match."""
        loaded = load_generators(path)
        if loaded.generators.config != self.config.model:
            raise ValueError(
                f"{path} has another architecture ({loaded.generators.config}) than this "
                f"run ({self.config.model})"
            )
        source = loaded.generators.networks()
        for name, network in self.gan.generators().networks().items():
            network.load_state_dict({k: v.float() for k, v in source[name].state_dict().items()})
        if self.ema is not None:
            self.ema = GeneratorEMA(self.gan.generators(), self.config.ema_decay)
        self.initialised_from = file_sha256(path)

    def resume(self, path: Path) -> str:
        """Continue a run from a full state, a portable state or one of its generator
        checkpoints; returns what was restored, for the log."""
        if path.suffix == ".safetensors":
            self.continue_from_generators(path)
            return "generators only: discriminators and optimiser moments start fresh"
        if self.load_state(path):
            return "portable state: optimiser moments start fresh"
        return "exactly"

    def continue_from_generators(self, path: Path) -> None:
        """Continue a run from its exported generators: G1/G2 and their average take the
        checkpoint's (EMA) weights, the step count and seconds come from its metadata."""
        loaded = load_generators(path)
        training = loaded.metadata.training or {}
        if training.get("preset") != self.config.preset:
            raise ValueError(
                f"{path} was trained with preset {training.get('preset')!r}, this run is "
                f"{self.config.preset!r}: use --init-from to start a new run from it"
            )
        self.init_generators(path)
        self.initialised_from = None
        self.step = int(training.get("steps", 0))
        self.seconds = float(training.get("seconds", 0.0))
        if self.ema is not None:  # the loaded weights already are an average
            self.ema.updates = self.step
        self._seek_schedules()

    def _seek_schedules(self) -> None:
        """Put every learning rate where the schedule has it at ``self.step``."""
        for scheduler in self.schedulers.values():
            scheduler.last_epoch = self.step
            assert isinstance(scheduler, torch.optim.lr_scheduler.LambdaLR)
            for group, base, factor in zip(
                scheduler.optimizer.param_groups,
                scheduler.base_lrs,
                scheduler.lr_lambdas,
                strict=True,
            ):
                group["lr"] = base * factor(self.step)

    def load_state(self, path: Path) -> bool:
        """Restore a saved state; returns True when it was a portable one."""
        state = torch.load(path, map_location=self.context.device, weights_only=True)
        saved = TrainConfig.model_validate_json(state["config"])
        if saved.model != self.config.model:
            raise ValueError(f"{path} was trained with a different architecture: {saved.model}")
        portable = bool(state.get(PORTABLE_MARK, False))
        for name, network in self.gan.named_networks():
            network.load_state_dict(state["networks"][name])
        if not portable:
            for name, optimiser in self.optimisers.items():
                optimiser.load_state_dict(state["optimisers"][name])
            for name, scheduler in self.schedulers.items():
                scheduler.load_state_dict(state["schedulers"][name])
            self.scaler.load_state_dict(state["scaler"])
        if self.ema is not None:
            if "ema" in state:
                self.ema.load_state_dict(state["ema"])
            else:  # a run that had no EMA starts its average from the current weights
                self.ema = GeneratorEMA(self.gan.generators(), self.config.ema_decay)
        torch.set_rng_state(state["rng_cpu"].cpu())
        if "rng_cuda" in state and torch.cuda.is_available():
            torch.cuda.set_rng_state_all([s.cpu() for s in state["rng_cuda"]])
        self.step = int(state["step"])
        self.seconds = float(state["seconds"])
        if portable:
            self._seek_schedules()
        return portable

    # -- outputs -------------------------------------------------------------------------
    def export_generator(self, path: Path | None = None) -> str:
        """Write the inference checkpoint (G1, G2 and metadata) that the pipeline loads."""
        config = self.config
        perceptual, network = self.perceptual_record()
        metadata = GeneratorMetadata(
            architecture=config.model,
            training={
                **json.loads(config.model_dump_json()),
                "steps": self.step,
                "epochs_completed": round(self.step / self.steps_per_epoch, 2),
                "seconds": round(self.seconds, 1),
                "perceptual_loss": perceptual,
                "perceptual_network": network,
                "initialised_from": self.initialised_from,
                "weights": f"EMA, decay {config.ema_decay}" if self.ema is not None else "raw",
                "world_size": self.context.world_size,
                "device": str(self.context.device),
            },
            data=self.data.folder.record(),
            parser=ParserRecord(id=self.data.parser_id, description=self.data.parser_description),
            notes=f"isegan train --preset {config.preset}",
            **new_metadata_fields(),
        )
        return save_generators(
            path or self.out / GENERATOR_FILE, self.exported_generators(), metadata
        )

    def exported_generators(self) -> Generators:
        """What inference gets: the EMA weights when the run keeps them, else the raw ones."""
        return self.ema.average if self.ema is not None else self.gan.generators()

    def perceptual_record(self) -> tuple[str, dict[str, Any] | None]:
        """What L_per (and L_id) ran on, with the network file's hash."""
        loss = self.config.loss
        if self.perceptual is not None:
            path = Path(str(self.config.vgg19_weights))
            return "on: VGG-19", {
                "network": "vgg19",
                "file": path.name,
                "sha256": file_sha256(path),
            }
        face = self.face
        if face is not None:
            terms = [
                name
                for name, on in (
                    ("L_face-per", bool(face.taps)),
                    ("L_id", loss.id_weight > 0),
                    ("L_id-contrast", loss.id_contrast_weight > 0),
                )
                if on
            ]
            where = " (identity terms on the face only)" if loss.id_face_only else ""
            return (
                f"on: {' + '.join(terms)} with dlib's face network{where}",
                face.recognizer.source.describe(),
            )
        if loss.per_weight > 0:
            return (
                "off: no VGG-19 weights (--vgg19) and no face-recognition network "
                "(pip install 'isegan[identity]')",
                None,
            )
        return "off", None

    def write_samples(self) -> Path:
        path = self.out / "samples" / f"step-{self.step:07d}.png"
        path.parent.mkdir(parents=True, exist_ok=True)
        sample_grid(self.exported_generators(), self.fixed_batch, self.context.device).save(path)
        return path

    def _fill_identity_gallery(self, step_context: StepContext) -> None:
        """L_id-contrast's gallery: every training photo's descriptor, at the precision
        the steps describe the real photos with."""
        assert self.face is not None
        items = self.data.dataset.items
        photos = torch.stack([item["photo"] for item in items]).to(self.context.device)
        frames = torch.stack([item["frame"] for item in items])
        with step_context.autocast():
            self.face.fill_gallery(photos, frames)

    # -- loop ----------------------------------------------------------------------------
    def fit(self) -> Path:
        config, context = self.config, self.context
        step_context = StepContext(
            config, self.gan, self.wrapped, self.optimisers, context.device,
            perceptual=self.perceptual, face=self.face, scaler=self.scaler,
        )  # fmt: skip
        if self.face is not None and config.loss.id_contrast_weight > 0:
            self._fill_identity_gallery(step_context)
        log_path = self.out / "losses.jsonl"
        if context.is_main:
            self.out.mkdir(parents=True, exist_ok=True)
            (self.out / "config.json").write_text(config.model_dump_json(indent=2))
        bar = tqdm(total=self.total_steps, initial=self.step, disable=not self.progress,
                   unit="step", dynamic_ncols=True)  # fmt: skip
        for network in self.gan.named_networks():
            network[1].train()
        while self.step < self.total_steps:
            epoch, done_in_epoch = divmod(self.step, self.steps_per_epoch)
            self.sampler.set_epoch(epoch, skip_batches=done_in_epoch)
            loader = DataLoader(
                self.data.dataset, batch_size=config.batch_size, sampler=self.sampler,
                num_workers=config.data.workers, collate_fn=collate,
                pin_memory=context.device.type == "cuda", drop_last=True,
                persistent_workers=False, generator=torch.Generator(),
            )  # fmt: skip
            waited = time.perf_counter()
            for batch in loader:
                started = time.perf_counter()
                data_wait = started - waited
                learning_rate = self.optimisers["stage1"].param_groups[0]["lr"]
                gradient_norms = bool(config.grad_norm_every) and (
                    self.step % config.grad_norm_every == 0
                )
                augment_seconds = 0.0
                if self.augmenter is not None:
                    augmented = augment_batch(
                        self.augmenter, self.data.parser, batch, step=self.step,
                        device=context.device, first_item=context.rank * config.batch_size,
                    )  # fmt: skip
                    batch, augment_seconds = augmented.batch, augmented.seconds
                logs = train_step(step_context, batch, gradient_norms=gradient_norms)
                if self.augmenter is not None:
                    logs["augment_seconds"] = augment_seconds
                if self.ema is not None:
                    self.ema.update(self.gan.generators())
                logs["lr"] = learning_rate
                for scheduler in self.schedulers.values():
                    scheduler.step()
                self.step += 1
                finished = time.perf_counter()
                self.seconds += finished - waited
                if context.is_main:
                    self._after_step(logs, epoch, finished - waited, data_wait, log_path, bar)
                waited = time.perf_counter()
                if self.step >= self.total_steps:
                    break
        bar.close()
        if context.is_main:
            self.save_state()
            self.export_generator()
            self.write_samples()
        barrier(context)
        return self.out / GENERATOR_FILE

    def _after_step(
        self,
        logs: dict[str, float],
        epoch: int,
        step_seconds: float,
        data_wait: float,
        log_path: Path,
        bar: tqdm,  # type: ignore[type-arg]
    ) -> None:
        config = self.config
        record = {
            "step": self.step,
            "epoch": epoch,
            **{k: v if k == "lr" else round(v, 5) for k, v in logs.items()},
            "step_seconds": round(step_seconds, 4),
            "data_wait_fraction": round(data_wait / step_seconds, 4) if step_seconds else 0.0,
        }
        with open(log_path, "a") as handle:
            handle.write(json.dumps(record) + "\n")
        if self.tensorboard is not None:
            for key, value in record.items():
                if key not in ("step", "epoch"):
                    self.tensorboard.add_scalar(key, value, self.step)
        bar.update(1)
        if self.step % config.log_every == 0 or self.step == 1:
            shown = {k: f"{v:.3f}" for k, v in logs.items() if k.endswith(("total", "face"))}
            bar.set_postfix(shown | {"s/step": f"{step_seconds:.2f}"})
        if self.step % config.sample_every == 0:
            self.write_samples()
        if self.step % config.checkpoint_every == 0:
            self.save_state()
            self.export_generator()
        if config.keep_every and self.step % config.keep_every == 0:
            self.export_generator(self.out / "generators" / f"step-{self.step:07d}.safetensors")
