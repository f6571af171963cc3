"""Training of the two-stage ISEGAN model (see the training issue; not yet implemented)."""
