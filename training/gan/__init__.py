"""GAN training: config, data, networks, steps, losses, trainer, samples, distributed."""
