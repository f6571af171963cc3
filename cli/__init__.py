"""The ``isegan`` command line."""
