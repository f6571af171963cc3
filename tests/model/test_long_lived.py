"""Freezing the loaded model's objects out of the collector's walks."""

from __future__ import annotations

import gc

from isegan.model.long_lived import freeze_long_lived_objects


def test_objects_alive_at_the_call_are_frozen_and_later_ones_are_not() -> None:
    before = gc.get_freeze_count()
    kept = [[index] for index in range(5000)]  # containers the collector tracks
    try:
        frozen = freeze_long_lived_objects()
        assert frozen == gc.get_freeze_count() >= before + len(kept)
        later = [[index] for index in range(100)]
        assert gc.get_freeze_count() == frozen  # made after the call: still collected
        assert all(gc.is_tracked(item) for item in later)
    finally:
        gc.unfreeze()  # the test process goes on making and dropping objects
