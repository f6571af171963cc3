import numpy as np
import pytest
import torch
from PIL import Image

from isegan.model.face_classes import (
    CELEBAMASK_HQ_19,
    FACE_CLASS_NAMES,
    ISEGAN_8,
    LAPA_11,
    FaceClass,
    get_label_scheme,
    parsing_from_image,
    parsing_to_image,
    to_face_probabilities,
)

# The notes' table (isegan-notes.md, "Face parsing: the 8 classes"), written out by name
# so a reordering of the source label lists is caught.
CELEBAMASK_EXPECTED = {
    "background": "background", "skin": "skin", "l_brow": "brows", "r_brow": "brows",
    "l_eye": "eyes", "r_eye": "eyes", "eye_g": "skin", "l_ear": "skin", "r_ear": "skin",
    "ear_r": "background", "nose": "nose", "mouth": "inner_mouth", "u_lip": "lips",
    "l_lip": "lips", "neck": "background", "neck_l": "background", "cloth": "background",
    "hair": "hair", "hat": "background",
}  # fmt: skip
LAPA_EXPECTED = {
    "background": "background", "face": "skin", "rb": "brows", "lb": "brows", "re": "eyes",
    "le": "eyes", "nose": "nose", "ulip": "lips", "imouth": "inner_mouth", "llip": "lips",
    "hair": "hair",
}  # fmt: skip


def test_face_classes_in_paper_order() -> None:
    assert FACE_CLASS_NAMES == (
        "background", "skin", "brows", "eyes", "nose", "inner_mouth", "lips", "hair"
    )  # fmt: skip


def test_celebamask_index_order_matches_released_bisenet() -> None:
    # Indices as face-parsing.PyTorch's 79999_iter.pth predicts them.
    names = CELEBAMASK_HQ_19.class_names
    assert names.index("l_eye") == 4 and names.index("nose") == 10
    assert names.index("mouth") == 11 and names.index("hair") == 17 and names.index("hat") == 18


@pytest.mark.parametrize(
    ("scheme", "expected"), [(CELEBAMASK_HQ_19, CELEBAMASK_EXPECTED), (LAPA_11, LAPA_EXPECTED)]
)
def test_every_source_class_maps_as_in_the_notes(scheme, expected) -> None:
    assert set(scheme.class_names) == set(expected)
    for source_index, source_name in enumerate(scheme.class_names):
        one_hot = torch.zeros(1, scheme.num_classes, 3, 2)
        one_hot[:, source_index] = 1.0
        mapped = to_face_probabilities(one_hot, scheme)
        target = FACE_CLASS_NAMES.index(expected[source_name])
        assert mapped.shape == (1, 8, 3, 2)
        assert torch.equal(mapped.argmax(1), torch.full((1, 3, 2), target)), source_name
        assert torch.allclose(mapped.sum(1), torch.ones(1, 3, 2))


def test_soft_mapping_sums_grouped_probabilities() -> None:
    probabilities = torch.softmax(
        torch.randn(2, 19, 4, 5, generator=torch.Generator().manual_seed(0)), 1
    )
    mapped = to_face_probabilities(probabilities, CELEBAMASK_HQ_19)
    brows = probabilities[:, 2] + probabilities[:, 3]
    background = probabilities[:, [0, 9, 14, 15, 16, 18]].sum(1)
    assert torch.allclose(mapped[:, FaceClass.BROWS], brows)
    assert torch.allclose(mapped[:, FaceClass.BACKGROUND], background)
    assert torch.allclose(mapped.sum(1), torch.ones(2, 4, 5))


def test_isegan_probabilities_pass_through_untouched_under_mixed_precision() -> None:
    """isegan's own parser predicts the 8 classes: its P_s is returned as the fp32
    softmax made it, not multiplied by an identity matrix (which autocast ran in bf16)."""
    assert ISEGAN_8.is_identity
    assert not CELEBAMASK_HQ_19.is_identity and not LAPA_11.is_identity
    probabilities = torch.softmax(torch.randn(1, 8, 16, 16), 1)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        mapped = to_face_probabilities(probabilities, ISEGAN_8)
    assert mapped.dtype == torch.float32
    assert torch.equal(mapped, probabilities)


def test_identity_scheme_and_shape_errors() -> None:
    probabilities = torch.rand(1, 8, 2, 2)
    assert torch.equal(to_face_probabilities(probabilities, ISEGAN_8), probabilities)
    with pytest.raises(ValueError, match="expected \\(B, 19"):
        to_face_probabilities(probabilities, CELEBAMASK_HQ_19)
    with pytest.raises(ValueError, match="unknown label scheme 'x'"):
        get_label_scheme("x")


def test_palette_png_round_trip_keeps_indices(tmp_path) -> None:
    class_map = np.arange(8, dtype=np.uint8).repeat(6).reshape(6, 8)
    path = tmp_path / "parsing.png"
    parsing_to_image(class_map).save(path)
    with Image.open(path) as image:
        assert image.mode == "P"
        assert image.getpalette()[3 * 7 : 3 * 8] == [110, 50, 160]  # hair colour
        assert np.array_equal(parsing_from_image(image), class_map)


def test_palette_png_rejects_unknown_classes() -> None:
    with pytest.raises(ValueError, match=r"outside 0\.\.7"):
        parsing_from_image(Image.fromarray(np.full((2, 2), 9, np.uint8), mode="L"))
    with pytest.raises(ValueError, match="palette \\(P\\) or greyscale"):
        parsing_from_image(Image.new("RGB", (2, 2)))
    with pytest.raises(ValueError, match="lie in \\[0, 7\\]"):
        parsing_to_image(np.full((2, 2), 8))
