"""The torch port of RivaGAN against the original ONNX files run by ONNX Runtime."""

from __future__ import annotations

import numpy as np
import onnxruntime
import torch
from PIL import Image

from isegan.provenance.rivagan import (
    DECODER_FILE,
    ENCODER_FILE,
    load_rivagan,
    locate_rivagan,
    read_onnx_weights,
)


def test_the_weights_reader_finds_every_layer() -> None:
    weights = read_onnx_weights(locate_rivagan() / ENCODER_FILE)
    assert weights["_attention.0.weight"].shape == (32, 3, 1, 11, 11)
    assert weights["_conv.0.weight"].shape == (32, 4, 1, 11, 11)  # image + bit layout
    assert weights["_conv.3.weight"].shape == (3, 32, 1, 11, 11)


def test_the_port_computes_what_onnx_runtime_does(cufs_dir, test_ids) -> None:
    folder = locate_rivagan()
    encoder, decoder = load_rivagan()
    with Image.open(cufs_dir / "photos" / f"{test_ids[0]}.png") as photo:
        image = torch.from_numpy(np.asarray(photo.convert("RGB"), np.float32))
    image = image.permute(2, 0, 1)[None] / 127.5 - 1
    message = torch.tensor([[i % 3 == 0 for i in range(32)]], dtype=torch.float32)
    with torch.no_grad():
        marked = encoder(image, message)
        scores = decoder(marked)
    runtime_encoder = onnxruntime.InferenceSession(str(folder / ENCODER_FILE))
    runtime_decoder = onnxruntime.InferenceSession(str(folder / DECODER_FILE))
    (expected,) = runtime_encoder.run(
        None, {"frame": image[:, :, None].numpy(), "data": message.numpy()}
    )
    (expected_scores,) = runtime_decoder.run(None, {"frame": expected})
    np.testing.assert_allclose(marked.numpy(), expected[:, :, 0], atol=5e-5)  # 1/300 grey level
    np.testing.assert_allclose(scores.numpy(), expected_scores, atol=1e-3, rtol=1e-3)
    assert np.array_equal(scores.numpy()[0] > 0, message.numpy()[0] > 0.5)
