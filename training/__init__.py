"""Training and evaluation: the two-stage GAN (gan/), the default face parser
(face_parser/) and evaluation with the paper's metrics (evaluation/)."""
