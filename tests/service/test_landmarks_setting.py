"""ISEGAN_LANDMARKS reaches the pipeline the service loads, and the record names it; with
MediaPipe's FaceMesh a sketch moved on a page is aligned back to the CUFS eyes. Real
MediaPipe and dlib models, a real CUFS sketch."""

from __future__ import annotations

import numpy as np
from PIL import Image

from isegan.model.alignment.align import CUFS_EYES, align_face, place_on_page
from isegan.model.alignment.landmarks import FaceLandmarker
from isegan.service.runtime.state import load_pipeline
from tests.extras import require_module
from tests.service.conftest import service_settings


def test_the_setting_chooses_the_landmark_backend(
    generator_checkpoint, parser_checkpoint, cufs_sketches, monkeypatch
) -> None:
    require_module("mediapipe")
    default = load_pipeline(service_settings(generator_checkpoint, parser_checkpoint, None))
    assert default.landmarks == "dlib"
    assert default.inference_record()["landmarks"] == "dlib"
    assert "iris" in str(default.inference_record()["eye_centres"])
    monkeypatch.setenv("ISEGAN_LANDMARKS", "mediapipe")
    pipeline = load_pipeline(service_settings(generator_checkpoint, parser_checkpoint, None))
    assert pipeline.inference_record()["landmarks"] == "mediapipe"
    aligner = pipeline.aligner()
    assert isinstance(aligner, FaceLandmarker)
    page, matrix = place_on_page(cufs_sketches[0], np.random.default_rng(0))
    alignment = align_face(page, aligner)
    eyes_on_page = CUFS_EYES @ matrix[:, :2].T + matrix[:, 2]
    back = eyes_on_page @ alignment.matrix[:, :2].T + alignment.matrix[:, 2]
    assert np.linalg.norm(back - CUFS_EYES, axis=1).max() < 4.0  # px; FaceMesh's worst: 1.9
    assert isinstance(alignment.image, Image.Image)
