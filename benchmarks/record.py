"""Run a measuring command and append what it printed to docs/performance.md, with the
machine, the date, the commit and the command, so a figure there is regenerated, never
typed.

    .venv/bin/python -m benchmarks.record "isegan bench, peers" -- .venv/bin/isegan bench --peers

For commands that do not record themselves (``isegan bench``; the scripts here take
``--record``). Nothing is appended when the command fails.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
from pathlib import Path

from benchmarks.common import append_section, section


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("title", help="the section's title")
    parser.add_argument("command", nargs=argparse.REMAINDER, help="-- then the command")
    args = parser.parse_args(argv)
    command = args.command[1:] if args.command[:1] == ["--"] else args.command
    if not command:
        parser.error("give the command after --")
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    sys.stdout.write(done.stdout)
    sys.stderr.write(done.stderr)
    if done.returncode != 0:
        return done.returncode
    shown = [Path(command[0]).name, *command[1:]]
    append_section(section(args.title, f"```text\n{done.stdout.rstrip()}\n```", command=shown))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
