"""Keep freed activations in the process instead of handing them back to the kernel.

glibc's malloc serves every block over its mmap threshold (128 KiB at first, growing to
at most 32 MiB) with a fresh ``mmap`` and returns it on ``free``; the top of the heap is
trimmed back to the kernel too. A forward pass allocates and frees the same activation
buffers on every call, so each call faults them in again, page by page: eager fp32 took
~28,000 minor page faults per G1+G2 call, the optimised path ~51,000 at batch 4. With
blocks up to 32 MiB kept on the heap and no trimming, the faults fall to ~0 and
G1+G2 ran 1.5x (batch 4) to 3x (eager) faster (docs/performance.md, "Allocator").

The cost: the process keeps its peak heap resident. ``ISEGAN_MALLOC_TUNING=off`` leaves
glibc's defaults. Elsewhere than glibc (macOS, musl) this does nothing.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import logging
import os

logger = logging.getLogger(__name__)

_M_TRIM_THRESHOLD = -1
_M_TOP_PAD = -2
_M_MMAP_THRESHOLD = -3
#: glibc's largest mmap threshold on 64-bit (DEFAULT_MMAP_THRESHOLD_MAX).
MMAP_THRESHOLD = 32 * 2**20
#: Free memory at the top of the heap kept before trimming (mallopt's largest value).
TRIM_THRESHOLD = 2**31 - 1
#: Extra heap asked for at each growth, so a pass's buffers are rarely a fresh sbrk.
TOP_PAD = 64 * 2**20

_tuned: bool | None = None


def keep_freed_memory() -> bool:
    """Tune glibc malloc as the module's docstring says, once per process; True when it
    took effect."""
    global _tuned
    if _tuned is not None:
        return _tuned
    _tuned = False
    if os.environ.get("ISEGAN_MALLOC_TUNING", "on").lower() in ("off", "0", "false"):
        return False
    name = ctypes.util.find_library("c")
    if name is None:
        return False
    try:
        libc = ctypes.CDLL(name)
        mallopt = libc.mallopt
    except (OSError, AttributeError):
        return False
    mallopt.argtypes, mallopt.restype = [ctypes.c_int, ctypes.c_int], ctypes.c_int
    done = [
        mallopt(_M_MMAP_THRESHOLD, MMAP_THRESHOLD),
        mallopt(_M_TRIM_THRESHOLD, TRIM_THRESHOLD),
        mallopt(_M_TOP_PAD, TOP_PAD),
    ]
    _tuned = all(result == 1 for result in done)
    logger.debug("malloc tuning %s", "on" if _tuned else "refused")
    return _tuned
