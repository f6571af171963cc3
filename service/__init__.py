"""The REST service (not yet implemented)."""
