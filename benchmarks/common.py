"""What the benchmark scripts share: writing what they measured into docs/performance.md
with the machine, the date and the commit.

Figures live in docs/performance.md, written here by the scripts themselves (``--record``)
rather than typed by hand, so a figure is regenerated, never copied.
"""

from __future__ import annotations

import contextlib
import io
import os
import platform
import shlex
import subprocess
import sys
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[1]
PERFORMANCE_PAGE = ROOT / "docs" / "performance.md"


def machine() -> str:
    """The CPU model and core count (and the GPU, when there is one), torch's version."""
    model = platform.processor() or platform.machine()
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    text = f"{model}, {os.cpu_count()} cores"
    if torch.cuda.is_available():
        text += f", {torch.cuda.get_device_name()}"
    return f"{text}; torch {torch.__version__}"


def _git(*args: str) -> str:
    done = subprocess.run(["git", "-C", str(ROOT), *args], capture_output=True, text=True)
    if done.returncode != 0:
        raise OSError(done.stderr)
    return done.stdout.strip()


def commit() -> str:
    """The checkout's commit, marked when the work tree has changes."""
    try:
        sha, dirty = _git("rev-parse", "--short=12", "HEAD"), _git("status", "--porcelain", "-uno")
    except OSError:
        return "unknown"
    return sha + (" (with uncommitted changes)" if dirty else "")


def section(
    title: str,
    body: str,
    argv: list[str] | None = None,
    machine_text: str | None = None,
    command: list[str] | None = None,
) -> str:
    """A dated section: title, machine (``machine_text`` when the figures come from another
    machine than this one), commit, the command that made it (this Python script with
    ``argv``, or ``command`` as given), its output."""
    shown = command or [Path(sys.executable).name, *(argv if argv is not None else sys.argv)]
    stamp = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    return (
        f"### {title}: {stamp}\n\n"
        f"Machine: {machine_text or machine()}. Commit: `{commit()}`.\n\n"
        f"```sh\n{shlex.join(shown)}\n```\n\n{body.strip()}\n"
    )


def append_section(text: str, page: Path = PERFORMANCE_PAGE) -> None:
    """Add a section at the end of ``page`` (under its last heading)."""
    existing = page.read_text() if page.is_file() else "# Inference speed\n"
    page.write_text(existing.rstrip("\n") + "\n\n" + text)


@contextlib.contextmanager
def recorded(title: str, enabled: bool, page: Path = PERFORMANCE_PAGE) -> Iterator[None]:
    """Print as usual; with ``enabled``, also append what was printed to ``page`` as a
    dated section (only when the block finishes without an error)."""
    if not enabled:
        yield
        return
    buffer = io.StringIO()
    screen = sys.stdout

    class Tee(io.TextIOBase):
        def write(self, text: str) -> int:
            buffer.write(text)
            return screen.write(text)

    with contextlib.redirect_stdout(Tee()):
        yield
    append_section(section(title, buffer.getvalue()), page)
