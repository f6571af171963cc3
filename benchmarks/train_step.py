"""Seconds per training iteration (D1+D_par, D2, G1, G2) and peak memory.

Runs the real ``train_step`` of a preset (``--preset``, default ``full``) on random
256x256 batches (no data loading), for each width and batch size asked, after warm-up
steps, and prints a table (``--json`` for one JSON object). The losses are those
``isegan train`` runs without VGG-19 weights: L_per, and L_id where the preset weights
it, on dlib's face network, and the generator EMA where the preset keeps one. Peak memory
is the process's maximum resident set on CPU, ``torch.cuda.max_memory_allocated`` on a
GPU. ``--identity`` measures each setting twice in the same process, as the preset is and
with L_face-per and L_id (weight 1) forced on, and reports the ratio. ``--profile N``
then profiles N more steps: milliseconds per phase of the step and the top operators.

    python benchmarks/train_step.py --widths 64 32 16 --batch-sizes 1 4
    python benchmarks/train_step.py --preset recommended --widths 32 --batch-sizes 4 \
        --precision bf16 --channels-last --max-channel-multiplier 4 --profile 3
"""

from __future__ import annotations

import argparse
import json
import resource
import statistics
import time

import torch

from isegan.model.device import resolve_device
from isegan.training.gan.config import build_config
from isegan.training.gan.ema import GeneratorEMA
from isegan.training.gan.optimisation import build_optimisers
from isegan.training.gan.steps import StepContext, train_step
from isegan.training.gan.two_stage_gan import TwoStageGAN, face_perceptual_network


def measure(
    width: int,
    batch_size: int,
    *,
    device: torch.device,
    precision: str,
    channels_last: bool,
    steps: int,
    warmup: int,
    max_channel_multiplier: int | None = None,
    identity: bool = False,
    preset: str = "full",
    profile: int = 0,
) -> dict[str, float | int | str]:
    overrides = ["loss.per_network=face", "loss.id_weight=1.0"] if identity else []
    if max_channel_multiplier is not None:
        overrides.append(f"model.generator.max_channel_multiplier={max_channel_multiplier}")
    config = build_config(
        preset,
        overrides=overrides,
        batch_size=batch_size,
        precision=precision,
        channels_last=channels_last,
        model__generator__base_channels=width,
        discriminator_channels=width,
    )
    torch.manual_seed(0)
    gan = TwoStageGAN(config).to(device)
    if channels_last:
        gan.to(memory_format=torch.channels_last)
    optimisers = build_optimisers(gan, config)
    # As `isegan train` without VGG-19 weights: L_per and L_id on dlib's face network
    # where the preset turns them on.
    face = face_perceptual_network(config, device, vgg_loaded=False)
    context = StepContext(config, gan, dict(gan.named_networks()), optimisers, device, face=face)
    ema = GeneratorEMA(gan.generators(), config.ema_decay) if config.ema_decay else None
    batch = {
        # a CUFS frame shifted by a random crop, as the data set hands it over
        "frame": torch.tensor([[43.0, 18.0, 0.0, 200.0, 250.0]] * batch_size),
        "sketch": torch.rand(batch_size, 3, 256, 256) * 2 - 1,
        "photo": torch.rand(batch_size, 3, 256, 256) * 2 - 1,
        "sketch_parsing": torch.softmax(torch.randn(batch_size, 8, 256, 256), 1),
        "photo_parsing": torch.softmax(torch.randn(batch_size, 8, 256, 256), 1),
    }
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats(device)
    times = []
    for step in range(warmup + steps):
        if device.type == "cuda":
            torch.cuda.synchronize(device)
        started = time.perf_counter()
        one_iteration(context, batch, ema)
        if device.type == "cuda":
            torch.cuda.synchronize(device)
        if step >= warmup:
            times.append(time.perf_counter() - started)
    if profile:
        print_profile(context, batch, ema, profile)
    if device.type == "cuda":
        peak_mb = torch.cuda.max_memory_allocated(device) / 2**20
    else:
        peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    seconds = statistics.median(times)
    return {
        "ngf": width,
        "batch_size": batch_size,
        "precision": precision,
        "channels_last": channels_last,
        "seconds_per_step": round(seconds, 3),
        "seconds_per_image": round(seconds / batch_size, 3),
        "peak_memory_mb": round(peak_mb),
        "device": str(device),
        "identity_losses": identity,
        "preset": preset,
    }


def one_iteration(
    context: StepContext, batch: dict[str, torch.Tensor], ema: GeneratorEMA | None
) -> None:
    """What `isegan train` does per iteration: the step, then the EMA update (marked as
    a profiler range, which costs nothing when no profiler runs)."""
    train_step(context, batch)
    if ema is not None:
        with torch.profiler.record_function("step.ema"):
            ema.update(context.gan.generators())


def print_profile(
    context: StepContext, batch: dict[str, torch.Tensor], ema: GeneratorEMA | None, steps: int
) -> None:
    """Where ``steps`` more iterations spend their time: per phase of the step (the
    ``step.*`` ranges train_step marks, plus the EMA update) and the top operators."""
    with torch.profiler.profile(activities=[torch.profiler.ProfilerActivity.CPU]) as profiler:
        for _ in range(steps):
            one_iteration(context, batch, ema)
    events = profiler.key_averages()
    phases = [e for e in events if e.key.startswith("step.")]
    whole = sum(e.cpu_time_total for e in phases)
    print("| phase | ms per step | share |")
    print("|---|---|---|")
    for event in sorted(phases, key=lambda e: -e.cpu_time_total):
        milliseconds = event.cpu_time_total / steps / 1000
        print(f"| {event.key} | {milliseconds:.0f} | {event.cpu_time_total / whole:.0%} |")
    print()
    print(events.table(sort_by="self_cpu_time_total", row_limit=15))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--widths", type=int, nargs="+", default=[64, 32, 16])
    parser.add_argument("--batch-sizes", type=int, nargs="+", default=[1, 4])
    parser.add_argument("--precision", choices=["fp32", "bf16", "fp16"], default="fp32")
    parser.add_argument("--channels-last", action="store_true")
    parser.add_argument("--steps", type=int, default=3)
    parser.add_argument("--warmup", type=int, default=1)
    parser.add_argument("--device", default="auto")
    parser.add_argument("--max-channel-multiplier", type=int)
    parser.add_argument(
        "--identity", action="store_true", help="also measure with the identity losses on"
    )
    parser.add_argument("--preset", default="full", help="training preset (default full)")
    parser.add_argument(
        "--profile", type=int, default=0, metavar="STEPS",
        help="after timing, profile this many more steps: time per phase and top operators",
    )  # fmt: skip
    parser.add_argument("--json", action="store_true")
    parser.add_argument(
        "--project-epochs",
        type=int,
        default=700,
        help="project the wall time of this many epochs (the paper trains 700)",
    )
    parser.add_argument("--pairs", type=int, default=168, help="training pairs per epoch")
    args = parser.parse_args()
    device = resolve_device(args.device)
    rows = [
        measure(
            w,
            b,
            device=device,
            precision=args.precision,
            channels_last=args.channels_last,
            steps=args.steps,
            warmup=args.warmup,
            max_channel_multiplier=args.max_channel_multiplier,
            identity=identity,
            preset=args.preset,
            profile=args.profile,
        )
        for w in args.widths
        for b in args.batch_sizes
        for identity in ((False, True) if args.identity else (False,))
    ]
    for row in rows:
        steps = args.project_epochs * -(-args.pairs // int(row["batch_size"]))
        row["images_per_second"] = round(int(row["batch_size"]) / float(row["seconds_per_step"]), 2)
        row[f"projected_hours_{args.project_epochs}_epochs"] = round(
            steps * float(row["seconds_per_step"]) / 3600, 1
        )
    if args.json:
        print(json.dumps({"rows": rows, "threads": torch.get_num_threads()}, indent=2))
        return
    print("| ngf | batch | precision | identity losses | s/step | s/image | vs off | peak MB |")
    print("|---|---|---|---|---|---|---|---|")
    baseline = 0.0
    for r in rows:
        layout = " +channels_last" if r["channels_last"] else ""
        if not r["identity_losses"]:
            baseline = float(r["seconds_per_step"])
        ratio = float(r["seconds_per_step"]) / baseline if baseline else float("nan")
        print(
            f"| {r['ngf']} | {r['batch_size']} | {r['precision']}{layout} "
            f"| {'on' if r['identity_losses'] else 'off'} | {r['seconds_per_step']} "
            f"| {r['seconds_per_image']} | {ratio:.2f}x | {r['peak_memory_mb']} |"
        )


if __name__ == "__main__":
    main()
