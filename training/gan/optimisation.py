"""The optimisers (Adam, one per network) and the learning-rate schedule of a run."""

from __future__ import annotations

import torch

from isegan.training.gan.config import TrainConfig
from isegan.training.gan.two_stage_gan import TwoStageGAN


def build_optimisers(gan: TwoStageGAN, config: TrainConfig) -> dict[str, torch.optim.Optimizer]:
    optim = config.optim
    optimisers: dict[str, torch.optim.Optimizer] = {}
    for name, network in gan.named_networks():
        parameters = list(network.parameters())
        fused = optim.fused
        if fused is None:
            fused = all(p.device.type in ("cpu", "cuda") for p in parameters)
        optimisers[name] = torch.optim.Adam(
            parameters, lr=optim.learning_rate, betas=(optim.beta1, optim.beta2), fused=fused
        )
    return optimisers


def build_schedulers(
    optimisers: dict[str, torch.optim.Optimizer], config: TrainConfig, total_steps: int
) -> dict[str, torch.optim.lr_scheduler.LRScheduler]:
    """Constant rate, or pix2pix's linear decay to zero over the second half."""
    half = total_steps / 2

    def factor(step: int) -> float:
        if not config.optim.decay_second_half or step < half:
            return 1.0
        return max(0.0, (total_steps - step) / half)

    return {
        name: torch.optim.lr_scheduler.LambdaLR(optimiser, factor)
        for name, optimiser in optimisers.items()
    }
