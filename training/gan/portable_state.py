"""A run's state small enough to commit: every network in fp16, the generators' average,
the step, the schedule's position and the RNG; no optimiser moments (two thirds of the
full state), which Adam re-estimates within a few dozen steps."""

from __future__ import annotations

from typing import Any

import torch

#: The key that tells ``Trainer.resume`` a state is portable.
PORTABLE_MARK = "portable"


def portable_state(state: dict[str, Any]) -> dict[str, Any]:
    """A full training state without the optimisers' moments, weights in fp16."""

    def half(value: Any) -> Any:
        if isinstance(value, dict):
            return {k: half(v) for k, v in value.items()}
        if isinstance(value, torch.Tensor) and value.is_floating_point():
            return value.half()
        return value

    kept = {k: v for k, v in state.items() if k not in ("optimisers", "scaler", "rng_cuda")}
    kept["networks"] = half(state["networks"])
    if "ema" in state:
        kept["ema"] = half(state["ema"])
    kept[PORTABLE_MARK] = True
    return kept
