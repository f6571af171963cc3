"""``isegan train``: the paper's two-stage training (or any Table 2 ablation)."""

from __future__ import annotations

import argparse
import logging
from pathlib import Path

import torch

from isegan.model.inference_options import PRECISIONS
from isegan.model.parsing import PARSER_BACKENDS
from isegan.training.gan.config import PRESETS, build_config
from isegan.training.gan.data import prepare_data
from isegan.training.gan.distributed import setup, teardown
from isegan.training.gan.trainer import Trainer

logger = logging.getLogger(__name__)


def add_parser(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "train",
        help="train ISEGAN (or an ablation preset) on sketch/photo pairs",
        description="Trains G1/G2 with their discriminators in the paper's order and writes "
        "OUT/generator.safetensors (loadable by `isegan synthesize`), OUT/training-state.pt "
        "(for --resume), OUT/losses.jsonl, OUT/config.json and sample grids. Under torchrun "
        "it trains with DistributedDataParallel, one process per GPU.",
    )
    parser.add_argument("--preset", choices=PRESETS, default="full", help="Table 2 row")
    parser.add_argument("--config", type=Path, help="TOML/YAML/JSON config file")
    parser.add_argument("--data", type=Path, help="pair folder (photos/, sketches/, <split>.txt)")
    parser.add_argument("--split", help="training split list (default train)")
    parser.add_argument("--out", type=Path, required=True, help="run folder")
    parser.add_argument("--epochs", type=int)
    parser.add_argument("--max-steps", type=int, help="stop after this many iterations")
    parser.add_argument("--ngf", type=int, help="generator base width (paper: 64)")
    parser.add_argument("--ndf", type=int, help="discriminator base width (paper: 64)")
    parser.add_argument("--batch-size", type=int, help="per process (paper: 1)")
    parser.add_argument(
        "--resume",
        type=Path,
        help="continue a run: its training-state.pt (exactly), a portable state "
        "(scripts/pack_training_state.py: fresh optimiser moments) or one of its generator "
        "checkpoints (also fresh discriminators); the step count and schedule carry on",
    )
    parser.add_argument(
        "--init-from",
        type=Path,
        help="generator checkpoint to start G1/G2 from (a run whose state is gone continues "
        "from its last committed weights); discriminators and optimisers start fresh",
    )
    parser.add_argument("--vgg19", type=Path, help="torchvision vgg19 state dict for L_per")
    parser.add_argument("--parser", type=Path, help="face parser weights (default: bundled)")
    parser.add_argument("--parser-backend", choices=PARSER_BACKENDS, help="kind of --parser file")
    parser.add_argument(
        "--precision",
        choices=PRECISIONS,
        help="auto: bf16 where the device runs it natively, fp16 on older GPUs, else fp32",
    )
    parser.add_argument("--channels-last", action="store_true", default=None)
    parser.add_argument("--compile", action="store_true", default=None, help="torch.compile")
    parser.add_argument("--workers", type=int, help="data loader worker processes")
    parser.add_argument("--seed", type=int)
    parser.add_argument("--threads", type=int, help="torch CPU threads")
    parser.add_argument("--device", default="auto")
    parser.add_argument(
        "--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
        help="override any config value, e.g. --set loss.gan_mode=lsgan (repeatable)",
    )  # fmt: skip
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    config = build_config(
        args.preset,
        file=args.config,
        overrides=args.overrides,
        epochs=args.epochs,
        max_steps=args.max_steps,
        batch_size=args.batch_size,
        seed=args.seed,
        precision=args.precision,
        channels_last=args.channels_last,
        compile=args.compile,
        vgg19_weights=str(args.vgg19) if args.vgg19 else None,
        parser_weights=str(args.parser) if args.parser else None,
        parser_backend=args.parser_backend,
        data__root=str(args.data) if args.data else None,
        data__split=args.split,
        data__workers=args.workers,
        discriminator_channels=args.ndf,
        model__generator__base_channels=args.ngf,
    )
    if args.threads:
        torch.set_num_threads(args.threads)
    context = setup(args.device)
    try:
        if context.device.type == "cuda":
            torch.backends.cudnn.benchmark = True
        data = prepare_data(config, args.out, context)
        trainer = Trainer(config, args.out, context, data=data, progress=not args.no_progress)
        if args.resume and args.init_from:
            raise ValueError("--resume continues a run exactly; --init-from starts a new one")
        if args.init_from:
            trainer.init_generators(args.init_from)
            logger.info("G1/G2 start from %s", args.init_from)
        if args.resume:
            how = trainer.resume(args.resume)
            logger.info("resumed from %s at step %d (%s)", args.resume, trainer.step, how)
        perceptual, _ = trainer.perceptual_record()
        if config.loss.per_weight > 0 and perceptual.startswith("off"):
            logger.warning("L_per is %s for this run", perceptual)
        else:
            logger.info("perceptual loss: %s", perceptual)
        path = trainer.fit()
        if context.is_main:
            print(f"wrote {path} after {trainer.step} steps ({trainer.seconds / 60:.1f} min)")
    finally:
        teardown(context)
    return 0
