"""Training the default face parser: pseudo-labels, their cache, the training loop."""
