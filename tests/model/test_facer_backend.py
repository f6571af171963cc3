"""facer's FaRL LaPa parser as a backend, with a TorchScript model the test creates in
the released file's calling convention (images in [0, 1] at 448x448 in, (logits, extra)
out): the real FaRL weights live on a file host we cannot reach."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

from isegan.model.face_classes import FaceClass
from isegan.model.inference_options import InferenceOptions
from isegan.model.parsing import load_parser
from isegan.model.pipeline import FacePipeline
from isegan.model.preprocess import image_to_tensor

LAPA_NOSE = 6


class ConstantLapaNet(nn.Module):
    """Predicts LaPa 'nose' everywhere, so the mapping to the 8 classes is visible."""

    def forward(self, images: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        batch, _, height, width = images.shape
        logits = torch.zeros(batch, 11, height, width) + images.mean() * 0
        logits[:, LAPA_NOSE] = 10.0
        return logits, images


@pytest.fixture(scope="module")
def facer_file(tmp_path_factory):
    path = tmp_path_factory.mktemp("facer") / "face_parsing.farl.lapa.pt"
    torch.jit.trace(ConstantLapaNet(), torch.rand(1, 3, 448, 448)).save(str(path))
    return path


def test_facer_backend_maps_lapa_to_eight_classes(facer_file, cufs_sketches) -> None:
    loaded = load_parser(facer_file, "cpu")  # .pt -> facer-lapa
    assert type(loaded.parser).__name__ == "FarlLapaParser" and len(loaded.parser_id) == 64
    image = image_to_tensor(cufs_sketches[0]).unsqueeze(0)
    with torch.inference_mode():
        probabilities = loaded.parser(image)
    assert probabilities.shape == (1, 8, 250, 200)
    torch.testing.assert_close(probabilities.sum(1), torch.ones(1, 250, 200), atol=1e-4, rtol=0)
    # Inside the warped face frame the constant LaPa nose becomes ISEGAN's nose.
    classes = probabilities.argmax(1)[0].numpy()
    assert classes[125, 100] == FaceClass.NOSE
    assert np.mean(classes == FaceClass.NOSE) > 0.3


def test_backend_is_one_setting(facer_file, parser_checkpoint) -> None:
    with pytest.raises(ValueError, match="unknown parser backend"):
        load_parser(parser_checkpoint, "cpu", "magic")  # type: ignore[arg-type]
    assert type(load_parser(parser_checkpoint, "cpu", "isegan").parser).__name__ == "FaceParser"
    assert type(load_parser(facer_file, "cpu", "facer-lapa").parser).__name__ == "FarlLapaParser"


def test_facer_parser_runs_in_fp32_inside_the_optimised_pipeline(
    facer_file, generator_checkpoint, cufs_sketches
) -> None:
    """The service's default options (bf16 where native, channels_last, folding) leave a
    third-party TorchScript parser alone: same P_s as the fp32 reference pipeline."""

    def pipeline(options: InferenceOptions) -> FacePipeline:
        return FacePipeline.from_files(generator_checkpoint, facer_file, "cpu", options=options)

    reference = pipeline(InferenceOptions.reference())(cufs_sketches[:1])[0]
    optimised = pipeline(InferenceOptions())(cufs_sketches[:1])[0]
    np.testing.assert_array_equal(optimised.sketch_parsing, reference.sketch_parsing)
    assert np.mean(optimised.sketch_parsing == FaceClass.NOSE) > 0.3
