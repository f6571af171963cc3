"""An exponential moving average of the generators' weights.

GAN generators oscillate from step to step; the average over the last few hundred steps
is smoother and usually scores better (Karras et al. 2018, Yazici et al. 2019). The
average is what the exported checkpoint and the sample grids use; the raw weights keep
training and are saved in the training state, so a resumed run continues exactly.
BatchNorm running statistics are copied from the raw networks, not averaged.

The decay warms up as ``min(decay, (1 + n) / (10 + n))`` after n updates (as in
TensorFlow's ExponentialMovingAverage with ``num_updates``): with a fixed 0.999 the
average would still weigh the random initial weights by 0.999^600 = 0.55 after 600
steps, so early checkpoints of a long run would be mostly noise.
"""

from __future__ import annotations

import copy
from typing import Any

import torch

from isegan.model.weights.generator_pair import Generators


class GeneratorEMA:
    """``ema = d * ema + (1 - d) * weights`` after every step, for G1 and G2, with
    ``d = min(decay, (1 + n) / (10 + n))`` after n updates."""

    def __init__(self, generators: Generators, decay: float) -> None:
        if not 0 < decay < 1:
            raise ValueError(f"EMA decay must be in (0, 1), got {decay}")
        self.decay = decay
        self.updates = 0
        self.average = Generators(
            generators.config,
            copy.deepcopy(generators.stage1),
            copy.deepcopy(generators.stage2),
        )
        for network in self.average.networks().values():
            network.requires_grad_(False)

    def current_decay(self) -> float:
        """The decay the next update uses (warmed up over the first updates)."""
        return min(self.decay, (1 + self.updates) / (10 + self.updates))

    @torch.no_grad()
    def update(self, generators: Generators) -> None:
        decay = self.current_decay()
        self.updates += 1
        raw = generators.networks()
        for name, average in self.average.networks().items():
            source = raw[name]
            averaged: list[torch.Tensor] = list(average.parameters())
            current: list[torch.Tensor] = list(source.parameters())
            torch._foreach_lerp_(averaged, current, 1 - decay)
            for target, buffer in zip(average.buffers(), source.buffers(), strict=True):
                target.copy_(buffer)

    def state_dict(self) -> dict[str, Any]:
        state: dict[str, Any] = {
            name: n.state_dict() for name, n in self.average.networks().items()
        }
        state["updates"] = self.updates
        return state

    def load_state_dict(self, state: dict[str, Any]) -> None:
        for name, network in self.average.networks().items():
            network.load_state_dict(state[name])
        # A state saved before the warm-up existed counts as fully warmed up.
        self.updates = int(state.get("updates", 10**9))
