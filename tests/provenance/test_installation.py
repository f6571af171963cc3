"""The installation folder: made once with private files, shared safely by processes."""

from __future__ import annotations

import stat
import subprocess
import sys
from pathlib import Path

from isegan.provenance.installation import Installation
from isegan.provenance.signing import choose_signing, installations_in_roots


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_first_use_makes_an_id_and_a_private_key_later_uses_keep_them(tmp_path) -> None:
    first = Installation.open(tmp_path / "data")
    again = Installation.open(tmp_path / "data")
    assert first.id == again.id and first.id.startswith("inst-")
    assert _mode(tmp_path / "data") == 0o700
    assert _mode(first.key) == 0o600
    assert first.key.read_bytes() == again.key.read_bytes()
    assert Installation.find(tmp_path / "elsewhere") is None
    setup = choose_signing("on", first)
    assert setup.key == "installation" and setup.signer is not None
    assert installations_in_roots(setup.root) == [first.id]
    assert choose_signing("off", first).signer is None


_ALLOCATE = """
import sys
from pathlib import Path
from isegan.provenance.installation import Installation
records = Installation.open(Path(sys.argv[1])).records()
print(" ".join(str(records.next()) for _ in range(300)))
"""


def test_processes_racing_on_one_folder_share_one_id_and_never_a_record(tmp_path) -> None:
    folder = tmp_path / "data"
    runs = [
        subprocess.Popen(
            [sys.executable, "-c", _ALLOCATE, str(folder)], stdout=subprocess.PIPE, text=True
        )
        for _ in range(3)
    ]
    numbers = []
    for run in runs:
        out, _ = run.communicate(timeout=120)
        assert run.returncode == 0
        numbers += [int(n) for n in out.split()]
    assert len(numbers) == 900 and len(set(numbers)) == 900
    assert len(list((folder).glob(".credentials-*"))) == 0
    assert Installation.find(folder) is not None
