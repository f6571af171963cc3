"""Weight files: the project's checkpoints and their metadata, the bundled defaults, the
two-generator file, and third-party state dicts read safely."""
