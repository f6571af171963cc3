"""An exponential moving average of the generators' weights.

GAN generators oscillate from step to step; the average over the last few hundred steps
is smoother and usually scores better (Karras et al. 2018, Yazici et al. 2019). The
average is what the exported checkpoint and the sample grids use; the raw weights keep
training and are saved in the training state, so a resumed run continues exactly.
BatchNorm running statistics are copied from the raw networks, not averaged.
"""

from __future__ import annotations

import copy
from typing import Any

import torch

from isegan.model.generators import Generators


class GeneratorEMA:
    """``ema = decay * ema + (1 - decay) * weights`` after every step, for G1 and G2."""

    def __init__(self, generators: Generators, decay: float) -> None:
        if not 0 < decay < 1:
            raise ValueError(f"EMA decay must be in (0, 1), got {decay}")
        self.decay = decay
        self.average = Generators(
            generators.config,
            copy.deepcopy(generators.stage1),
            copy.deepcopy(generators.stage2),
        )
        for network in self.average.networks().values():
            network.requires_grad_(False)

    @torch.no_grad()
    def update(self, generators: Generators) -> None:
        raw = generators.networks()
        for name, average in self.average.networks().items():
            source = raw[name]
            averaged: list[torch.Tensor] = list(average.parameters())
            current: list[torch.Tensor] = list(source.parameters())
            torch._foreach_lerp_(averaged, current, 1 - self.decay)
            for target, buffer in zip(average.buffers(), source.buffers(), strict=True):
                target.copy_(buffer)

    def state_dict(self) -> dict[str, Any]:
        return {name: n.state_dict() for name, n in self.average.networks().items()}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        for name, network in self.average.networks().items():
            network.load_state_dict(state[name])
