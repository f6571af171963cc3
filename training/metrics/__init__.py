"""Image-quality and recognition metrics of the paper's Table 1."""
