"""How many queued sketches the next batch takes, from the batch times the worker saw.

Batching pays where the hardware computes a larger batch faster per sketch (a GPU, a CPU
with bf16): there the limit stays at ``max_batch_size``. On a CPU where it does not (the
2-core AVX2 EPYC of docs/performance.md: 258 ms per sketch at batch 1, 278-284 ms at batch 2-8),
a full batch only makes its sketches slower, so the limit falls to the size with the
lowest measured time per sketch. The worker also asks this for its deadline checks.

Under ``measured`` the worker first runs each candidate size (1, 2, 4, ... and
``max_batch_size``) twice when enough is queued; the first run of a size is then
forgotten (it may carry one-off costs such as a GPU's kernel autotuning). After that
every ``explore_every``-th batch reruns the next candidate in turn, so the estimates
follow the machine. Under ``fixed`` the limit is always the maximum.
"""

from __future__ import annotations

from typing import Literal

BatchSizing = Literal["measured", "fixed"]


class BatchSizer:
    """Per-size moving averages of batch time, and the batch limit they imply."""

    def __init__(
        self,
        max_size: int,
        *,
        sizing: BatchSizing = "measured",
        explore_every: int = 16,
        weight: float = 0.3,
    ) -> None:
        if max_size < 1 or explore_every < 1 or not 0 < weight <= 1:
            raise ValueError("max_size and explore_every must be >= 1 and 0 < weight <= 1")
        self.max_size = max_size
        self.sizing = sizing
        self.explore_every = explore_every
        self.weight = weight
        self.seconds: dict[int, float] = {}  # moving average by batch size
        self.samples: dict[int, int] = {}
        self.candidates = sorted({2**k for k in range(max_size.bit_length()) if 2**k < max_size}
                                 | {max_size})  # fmt: skip
        self._batches = 0
        self._explored = 0

    def record(self, size: int, seconds: float) -> None:
        """One batch of ``size`` sketches took ``seconds``."""
        count = self.samples.get(size, 0)
        self.samples[size] = count + 1
        if count < 2:  # the first sample, or the second, which replaces the first
            self.seconds[size] = seconds
        else:
            self.seconds[size] = (1 - self.weight) * self.seconds[size] + self.weight * seconds

    def expected_seconds(self, size: int) -> float:
        """The measured time of a batch of ``size`` (moving average), or of the nearest
        measured size scaled linearly; 0 before any batch has run."""
        if size in self.seconds:
            return self.seconds[size]
        if not self.seconds:
            return 0.0
        nearest = min(self.seconds, key=lambda known: abs(known - size))
        return self.seconds[nearest] * size / nearest

    def best_size(self) -> int:
        """The size measured at least twice with the lowest time per sketch (the larger
        one on a tie); the maximum while no size has been."""
        measured = {
            k: s / k for k, s in self.seconds.items() if k <= self.max_size and self.samples[k] > 1
        }
        if not measured:
            return self.max_size
        return min(measured, key=lambda k: (measured[k], -k))

    def next_limit(self) -> int:
        """How many sketches the next batch may take (call once per batch)."""
        if self.sizing == "fixed":
            return self.max_size
        for size in self.candidates:  # the first sweep: each candidate twice
            if self.samples.get(size, 0) < 2:
                return size
        self._batches += 1
        if self._batches % self.explore_every == 0:
            self._explored += 1
            return self.candidates[self._explored % len(self.candidates)]
        return self.best_size()
