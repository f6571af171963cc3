"""DistributedDataParallel on CPU: two gloo processes train in step.

BatchNorm running statistics are per process between DDP's buffer broadcasts (rank 0's
are the ones exported), so the check is on the learned parameters.
"""

from __future__ import annotations

import hashlib
import json
import os
import socket
from pathlib import Path

import torch
import torch.multiprocessing as mp

from isegan.training.gan.config import build_config
from isegan.training.gan.data import prepare_data
from isegan.training.gan.distributed import setup, teardown
from isegan.training.gan.trainer import Trainer


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _worker(rank: int, port: int, pairs: str, parser: str, out: str) -> None:
    os.environ.update(
        RANK=str(rank), LOCAL_RANK=str(rank), WORLD_SIZE="2", MASTER_ADDR="127.0.0.1",
        MASTER_PORT=str(port),
    )  # fmt: skip
    torch.set_num_threads(1)
    context = setup("cpu")
    try:
        config = build_config(
            "full", data__root=pairs, data__split="four", parser_weights=parser,
            model__generator__base_channels=8, discriminator_channels=8,
            batch_size=1, max_steps=3, sample_every=10_000, checkpoint_every=10_000,
        )  # fmt: skip
        trainer = Trainer(config, Path(out), context, data=prepare_data(config, Path(out), context),
                          progress=False)  # fmt: skip
        trainer.fit()
        digest = hashlib.sha256()
        for _, network in trainer.gan.named_networks():
            for parameter in network.parameters():
                digest.update(parameter.detach().numpy().tobytes())
        Path(out, f"rank{rank}.json").write_text(
            json.dumps(
                {
                    "digest": digest.hexdigest(),
                    "steps": trainer.step,
                    "samples_per_epoch": len(trainer.sampler),
                }
            )
        )
    finally:
        teardown(context)


def test_two_gloo_processes_keep_identical_weights(tiny_pairs, parser_checkpoint, tmp_path) -> None:
    mp.spawn(
        _worker,
        args=(_free_port(), str(tiny_pairs), str(parser_checkpoint), str(tmp_path)),
        nprocs=2,
        join=True,
    )
    ranks = [json.loads((tmp_path / f"rank{r}.json").read_text()) for r in (0, 1)]
    assert ranks[0]["digest"] == ranks[1]["digest"]
    assert ranks[0]["steps"] == ranks[1]["steps"] == 3
    assert ranks[0]["samples_per_epoch"] == 2  # 4 pairs split over 2 ranks, batch 1
    assert (tmp_path / "generator.safetensors").is_file()  # written by rank 0 only
    assert not (tmp_path / "samples" / "rank1").exists()
