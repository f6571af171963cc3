"""ISEGAN networks, parsing, checkpoints and the inference pipeline (no CLI, no service code)."""
