"""Exceptions the library raises for bad files, so callers can report them cleanly."""


class WeightsError(ValueError):
    """A weights file is missing, unreadable, or does not fit the network it is for."""


class CheckpointError(WeightsError):
    """An isegan checkpoint is corrupt, truncated, or its metadata is invalid."""


class MissingComponentError(ValueError):
    """An optional component (a package or a model file) that this call needs is not
    installed; the message names what to install."""
