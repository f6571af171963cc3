"""Process-group setup for torchrun (DDP), and the single-process fallback.

Everything device- and rank-related lives here: the rest of the training code receives
a :class:`DistributedContext` and never reads environment variables itself.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import torch
import torch.distributed as dist
from torch import nn
from torch.nn.parallel import DistributedDataParallel


@dataclass(frozen=True)
class DistributedContext:
    rank: int
    world_size: int
    local_rank: int
    device: torch.device

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    @property
    def enabled(self) -> bool:
        return self.world_size > 1


def setup(device_name: str = "auto") -> DistributedContext:
    """Join the torchrun process group when launched by torchrun, else run alone.

    Under torchrun each process takes GPU ``LOCAL_RANK`` (NCCL), or the CPU (gloo).
    """
    from isegan.model.device import resolve_device

    world_size = int(os.environ.get("WORLD_SIZE", "1"))
    if world_size == 1:
        return DistributedContext(0, 1, 0, resolve_device(device_name))
    local_rank = int(os.environ.get("LOCAL_RANK", "0"))
    use_cuda = torch.cuda.is_available() and device_name in ("auto", "cuda")
    if use_cuda:
        torch.cuda.set_device(local_rank)
        device = torch.device("cuda", local_rank)
    else:
        device = torch.device("cpu")
    if not dist.is_initialized():
        dist.init_process_group(backend="nccl" if use_cuda else "gloo")
    return DistributedContext(dist.get_rank(), dist.get_world_size(), local_rank, device)


def wrap(network: nn.Module, context: DistributedContext) -> nn.Module:
    """DDP-wrap a network when running distributed. Unused parameters are allowed: some
    ablations leave a head without a loss."""
    if not context.enabled:
        return network
    device_ids = [context.device.index] if context.device.type == "cuda" else None
    return DistributedDataParallel(network, device_ids=device_ids, find_unused_parameters=True)


def barrier(context: DistributedContext) -> None:
    if context.enabled:
        dist.barrier()


def teardown(context: DistributedContext) -> None:
    if context.enabled and dist.is_initialized():
        dist.destroy_process_group()
