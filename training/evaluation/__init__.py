"""Evaluation with the paper's metrics: the eval run and identity tests."""
