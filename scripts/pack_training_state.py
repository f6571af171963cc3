"""Shrink a run's training-state.pt to a portable state that can be committed.

    python scripts/pack_training_state.py RUN_DIR/training-state.pt OUT.pt

The portable state keeps every network (fp16), the generators' average, the step, the
schedule position and the RNG; it drops Adam's moments, which are two thirds of the file
and re-estimate themselves within a few dozen steps. ``isegan train --resume OUT.pt``
continues the run from it.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import torch

from isegan.training.gan.portable_state import portable_state


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("state", type=Path, help="a run's training-state.pt")
    parser.add_argument("out", type=Path, help="where to write the portable state")
    args = parser.parse_args(argv)
    state = torch.load(args.state, map_location="cpu", weights_only=True)
    temporary = args.out.with_suffix(".tmp")
    torch.save(portable_state(state), temporary)
    temporary.replace(args.out)
    before, after = args.state.stat().st_size, args.out.stat().st_size
    print(f"{args.out}: step {state['step']}, {after / 1e6:.1f} MB (from {before / 1e6:.1f} MB)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
