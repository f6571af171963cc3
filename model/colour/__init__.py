"""Colour: perceptual colour spaces and differences, and the witness's colour hints."""
