"""Who a face shows: dlib's face-recognition ResNet in PyTorch, read from dlib's own
serialisation format."""
