"""Take the objects a loaded model keeps for the whole process out of the garbage
collector's sight.

A loaded pipeline is hundreds of thousands of Python objects (modules, parameters,
OpenVINO wrappers) that live as long as the process. Every full collection walks them
all, touching tens of megabytes, and the networks' weights are out of the CPU's caches
afterwards: with four more pipelines loaded beside it (``isegan bench``), the default
pipeline's G1+G2 ran 27.8 ms instead of 23.7 ms per call, and as fast as alone once the
collector was disabled or the loaded objects frozen (docs/performance.md). Freezing
(:func:`gc.freeze`) after loading and warm-up keeps collections to what requests create.

Frozen objects are still freed by reference counting; only reference cycles among them
would outlive their use, so this is for objects meant to live as long as the process.
"""

from __future__ import annotations

import gc


def freeze_long_lived_objects() -> int:
    """Collect once, then freeze every object alive now (call it after the model is
    loaded and warmed up); returns how many objects the collector no longer walks."""
    gc.collect()
    gc.freeze()
    return gc.get_freeze_count()
