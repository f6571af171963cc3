"""benchmarks/common.py: what a benchmark prints goes into the performance page, stamped."""

from __future__ import annotations

import pytest

from benchmarks.common import recorded


def test_recorded_output_is_appended_with_machine_date_and_commit(tmp_path, capsys) -> None:
    page = tmp_path / "performance.md"
    page.write_text("# Inference speed\n\nearlier figures\n")
    with recorded("Pipeline", True, page):
        print("| batch | ms |\n|---|---|\n| 1 | 80.0 |")
    text = page.read_text()
    assert text.startswith("# Inference speed\n\nearlier figures\n\n### Pipeline: 20")
    assert "Machine: " in text and "cores; torch " in text and "Commit: `" in text
    assert text.rstrip().endswith("| 1 | 80.0 |")
    assert "| 1 | 80.0 |" in capsys.readouterr().out  # still printed


def test_nothing_is_written_unless_asked_or_when_the_run_fails(tmp_path) -> None:
    page = tmp_path / "performance.md"
    with recorded("Pipeline", False, page):
        print("figures")
    assert not page.exists()
    with pytest.raises(RuntimeError), recorded("Pipeline", True, page):
        print("half a table")
        raise RuntimeError("the benchmark failed")
    assert not page.exists()
