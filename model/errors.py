"""Exceptions the library raises for bad files, so callers can report them cleanly."""


class WeightsError(ValueError):
    """A weights file is missing, unreadable, or does not fit the network it is for."""


class CheckpointError(WeightsError):
    """An isegan checkpoint is corrupt, truncated, or its metadata is invalid."""
