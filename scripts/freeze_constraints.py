"""Write docker/constraints.txt: the exact versions, in this environment, of every package
`pip install .` needs (pyproject's dependencies and what they need in turn).

    .venv/bin/python scripts/freeze_constraints.py

CUDA runtime wheels (nvidia-*, cuda-*, triton) are left out: they follow the torch build
the image installs, not this machine's.
"""

from __future__ import annotations

import re
import tomllib
from importlib import metadata
from pathlib import Path

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

ROOT = Path(__file__).resolve().parents[1]
PLATFORM_SPECIFIC = re.compile(r"^(nvidia-|cuda-|triton$)")


def closure(requirements: list[str]) -> dict[str, str]:
    versions: dict[str, str] = {}
    stack = [Requirement(text) for text in requirements]
    while stack:
        requirement = stack.pop()
        if requirement.marker and not requirement.marker.evaluate({"extra": ""}):
            continue
        key = canonicalize_name(requirement.name)
        if key in versions:
            continue
        dist = metadata.distribution(requirement.name)
        versions[key] = dist.version
        stack.extend(Requirement(text) for text in dist.requires or [])
    return versions


def main() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    versions = closure(project["dependencies"])
    lines = [
        "# Exact versions of what `pip install .` pulls in, as tested here; the image installs",
        "# with `--constraint` so every rebuild gets the same packages.",
        "# Regenerate with: .venv/bin/python scripts/freeze_constraints.py",
    ]
    lines += [
        f"{name}=={version}"
        for name, version in sorted(versions.items())
        if not PLATFORM_SPECIFIC.match(name)
    ]
    (ROOT / "docker" / "constraints.txt").write_text("\n".join(lines) + "\n")
    print(f"wrote {len(versions)} pins to docker/constraints.txt")


if __name__ == "__main__":
    main()
