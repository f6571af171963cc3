"""The identity-perceptual losses in training: chips that follow the crop, the terms in a
real step, the record in the checkpoint, L_id pulling descriptors together, and
L_id-contrast ranking a photo against the other training photos."""

from __future__ import annotations

import json

import torch
from PIL import Image

from isegan.model.alignment.face_chips import cufs_chip_matrix, extract_chips
from isegan.model.identity.face_recognition import locate_packaged_model
from isegan.model.preprocess import Preprocess
from isegan.model.stamps import file_sha256
from isegan.model.weights.checkpoint import GeneratorMetadata, read_checkpoint
from isegan.training.gan.data import collate
from isegan.training.gan.identity_loss import crop_chip_matrices, gallery_contrast


def test_chips_follow_the_random_crop_and_flip(trainer_factory, tmp_path) -> None:
    trainer = trainer_factory(tmp_path, "full", max_steps=1)
    dataset = trainer.data.dataset
    photo, _ = trainer.data.folder.load_pair(trainer.data.folder.ids[0])
    original = Preprocess().crop(*Preprocess().to_canvas(Image.fromarray(photo)))  # [-1, 1]
    reference = extract_chips(original[None].double(), cufs_chip_matrix())
    flips = set()
    for epoch in range(6):
        item = dataset[(epoch, 0)]
        flips.add(bool(item["frame"][2]))
        matrices = crop_chip_matrices(item["frame"][None], item["photo"].shape[-1])
        chip = extract_chips(item["photo"][None].double(), matrices)
        # integer shifts and mirror flips sample the same points: the chip is unchanged
        torch.testing.assert_close(chip, reference, atol=1e-5, rtol=0)
    assert flips == {True, False}


def test_a_step_logs_the_identity_terms_and_the_checkpoint_names_the_network(
    trainer_factory, tmp_path
) -> None:
    trainer = trainer_factory(tmp_path, "full", max_steps=2, overrides=("loss.id_weight=1.0",))
    assert trainer.face is not None and trainer.face.taps  # L_per falls back to the face network
    trainer.fit()
    records = [json.loads(line) for line in (tmp_path / "losses.jsonl").read_text().splitlines()]
    for key in ("g1_id", "g2_id", "g1_face_per", "g2_face_per", "g1_id_distance", "g2_id_distance"):
        assert all(record[key] >= 0 for record in records), key
    _, metadata = read_checkpoint(tmp_path / "generator.safetensors", GeneratorMetadata)
    training = metadata.training
    assert training is not None
    assert training["perceptual_loss"] == "on: L_face-per + L_id with dlib's face network"
    model_file = locate_packaged_model()
    assert model_file is not None
    assert training["perceptual_network"]["sha256"] == file_sha256(model_file)


def test_vgg19_keeps_l_per_and_the_face_network_only_serves_l_id(
    trainer_factory, tmp_path, vgg_file
) -> None:
    trainer = trainer_factory(
        tmp_path, "full", max_steps=1, vgg19_weights=str(vgg_file),
        overrides=("loss.id_weight=1.0",),
    )  # fmt: skip
    assert trainer.perceptual is not None
    assert trainer.face is not None and trainer.face.taps == ()
    off = trainer_factory(tmp_path / "off", "base", max_steps=1)
    assert off.face is None and off.perceptual is None


def test_l_id_pulls_the_descriptors_together(trainer_factory, tmp_path) -> None:
    """Only L_id (and a small L1), on two pairs: the descriptor distance of G1's photo to
    the real one falls."""
    trainer = trainer_factory(
        tmp_path, "stage1", split="two", max_steps=40, width=16,
        overrides=("loss.id_weight=20.0", "loss.per_weight=0", "loss.cmp_weight=1.0",
                   "loss.pm_weight=0", "loss.alpha=1.0", "loss.parsing_discriminator=false",
                   "data.flip=false", "optim.learning_rate=0.001"),
    )  # fmt: skip
    trainer.fit()
    distances = [
        json.loads(line)["g1_id_distance"]
        for line in (tmp_path / "losses.jsonl").read_text().splitlines()
    ]
    first, last = sum(distances[:5]) / 5, sum(distances[-5:]) / 5
    assert last < 0.75 * first, (first, last)


def test_collated_frames_stack(trainer_factory, tmp_path) -> None:
    trainer = trainer_factory(tmp_path, "full", max_steps=1)
    batch = collate([trainer.data.dataset[(0, i)] for i in range(2)])
    assert batch["frame"].shape == (2, 5)


def test_gallery_contrast_rewards_the_own_person_and_ignores_its_gallery_row() -> None:
    torch.manual_seed(0)
    gallery = torch.randn(6, 128) * 0.05
    real = gallery[[2, 4]] + 0.01 * torch.randn(2, 128)  # the batch's crops of persons 2, 4
    indices = torch.tensor([2, 4])
    near_own = real + 0.001 * torch.randn(2, 128)
    near_other = gallery[[3, 0]].clone()
    own_loss = gallery_contrast(near_own, real, gallery, indices, 0.1)
    other_loss = gallery_contrast(near_other, real, gallery, indices, 0.1)
    assert float(own_loss) < float(other_loss)
    # the positive is this crop's real photo, not the gallery's copy of the same person
    moved = gallery.clone()
    moved[2] = 10.0
    first = (near_own[:1], real[:1], indices[:1])
    torch.testing.assert_close(
        gallery_contrast(*first[:2], moved, first[2], 0.1),
        gallery_contrast(*first[:2], gallery, first[2], 0.1),
    )
    # the gradient is finite where the photo equals its target exactly
    exact = real.clone().requires_grad_(True)
    gallery_contrast(exact, real, gallery, indices, 0.1).backward()
    assert exact.grad is not None and bool(torch.isfinite(exact.grad).all())


def test_l_id_contrast_describes_every_training_photo_and_logs_its_term(
    trainer_factory, tmp_path
) -> None:
    trainer = trainer_factory(
        tmp_path,
        "full",
        max_steps=2,
        overrides=("loss.id_weight=1.0", "loss.id_contrast_weight=0.5", "loss.id_face_only=true"),
    )
    dataset = trainer.data.dataset
    assert [int(dataset[(3, i)]["index"]) for i in range(len(dataset))] == list(range(len(dataset)))
    trainer.fit()
    assert trainer.face is not None and trainer.face.gallery is not None
    assert trainer.face.gallery.shape == (len(dataset), 128)
    # row i is pair i's photo: an augmented crop of it is nearest that row
    item = dataset[(5, 1)]
    crop = trainer.face.targets(item["photo"][None], item["frame"][None]).features.descriptor
    assert int(torch.cdist(crop.float(), trainer.face.gallery).argmin()) == 1
    records = [json.loads(line) for line in (tmp_path / "losses.jsonl").read_text().splitlines()]
    assert all(r["g1_id_contrast"] > 0 and r["g2_id_contrast"] > 0 for r in records)
    _, metadata = read_checkpoint(tmp_path / "generator.safetensors", GeneratorMetadata)
    assert metadata.training is not None
    assert metadata.training["perceptual_loss"] == (
        "on: L_face-per + L_id + L_id-contrast with dlib's face network"
        " (identity terms on the face only)"
    )


def test_id_face_only_keeps_the_identity_terms_off_the_backdrop(trainer_factory, tmp_path) -> None:
    """With loss.id_face_only the descriptor is taken of the synthesised face on the real
    photo's background: repainting the backdrop leaves L_id unchanged, and its gradient
    reaches face pixels but no pixel P_p calls background."""
    trainer = trainer_factory(
        tmp_path, "full", max_steps=1, overrides=("loss.id_weight=1.0", "loss.id_face_only=true")
    )
    assert trainer.face is not None
    item = trainer.data.dataset[(0, 0)]
    photo, frame = item["photo"][None], item["frame"][None]
    # a background P_p could give: the left third of the canvas, which the chip overlaps
    hard = torch.zeros_like(photo[:, :1])
    hard[..., :100] = 1.0
    targets = trainer.face.targets(photo, frame, background=hard)
    torch.manual_seed(0)
    fake = (photo + 0.2 * torch.randn_like(photo)).clamp(-1, 1).requires_grad_(True)
    loss = trainer.face.losses(targets, fake).identity
    loss.backward()
    assert fake.grad is not None
    assert float(fake.grad.abs().mul(hard).sum()) == 0.0
    assert float(fake.grad.abs().mul(1 - hard).sum()) > 0.0
    repainted = (fake.detach() * (1 - hard) + hard).requires_grad_(False)  # a white backdrop
    torch.testing.assert_close(trainer.face.losses(targets, repainted).identity, loss.detach())
    # without the option the backdrop counts
    plain = trainer.face.targets(photo, frame)
    assert float(trainer.face.losses(plain, repainted).identity) != float(
        trainer.face.losses(plain, fake.detach()).identity
    )
