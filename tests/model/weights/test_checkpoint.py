import json
import struct

import pytest
import torch

from isegan.model.config import GeneratorConfig, IseganConfig
from isegan.model.errors import CheckpointError
from isegan.model.parsing import load_parser
from isegan.model.stamps import file_sha256
from isegan.model.weights.checkpoint import GeneratorMetadata, read_checkpoint
from isegan.model.weights.generator_pair import build_generators, load_generators, save_generators
from tests.helpers import write_generator_checkpoint

CONFIG = IseganConfig(generator=GeneratorConfig(base_channels=4, num_levels=5))


def _outputs(generators, seed=0):
    g = torch.Generator().manual_seed(seed)
    sketch = torch.rand(1, 3, 64, 64, generator=g) * 2 - 1
    parsing = torch.softmax(torch.randn(1, 8, 64, 64, generator=g), 1)
    with torch.inference_mode():
        out = generators.stage1(sketch, parsing)
        return out.photo, generators.stage2(parsing, out.parsing, out.photo)


def _metadata(**extra) -> GeneratorMetadata:
    return GeneratorMetadata(
        architecture=CONFIG, created_at="2026-01-01T00:00:00+00:00", code_version="test", **extra
    )


def test_round_trip_same_outputs_and_model_id(tmp_path) -> None:
    torch.manual_seed(0)
    generators = build_generators(CONFIG).eval()
    metadata = _metadata(metrics={"fsim": 0.5, "fid": None})
    model_id = save_generators(tmp_path / "a.safetensors", generators, metadata)
    assert model_id == file_sha256(tmp_path / "a.safetensors") and len(model_id) == 64

    loaded = load_generators(tmp_path / "a.safetensors")
    assert loaded.metadata == metadata
    for before, after in zip(_outputs(generators), _outputs(loaded.generators), strict=True):
        assert torch.equal(before, after)
    # Saving what was loaded, with the same metadata, reproduces the file byte for byte.
    again = save_generators(tmp_path / "b.safetensors", loaded.generators, loaded.metadata)
    assert again == model_id


def test_stage_one_only_checkpoint(tmp_path) -> None:
    config = IseganConfig(generator=CONFIG.generator, stages=1, use_sketch_parsing=False)
    path = write_generator_checkpoint(tmp_path / "s1.safetensors", config)
    loaded = load_generators(path)
    assert loaded.generators.stage2 is None
    assert len(loaded.generators.stage1.unet.encoders) == 1


def test_metadata_must_match_networks(tmp_path) -> None:
    generators = build_generators(CONFIG)
    wrong = GeneratorMetadata(architecture=IseganConfig(), created_at="x", code_version="x")
    with pytest.raises(ValueError, match="must describe"):
        save_generators(tmp_path / "x.safetensors", generators, wrong)


def test_fp16_storage_loads_as_fp32(tmp_path) -> None:
    torch.manual_seed(0)
    generators = build_generators(CONFIG).eval()
    save_generators(tmp_path / "h.safetensors", generators, _metadata(), dtype=torch.float16)
    loaded = load_generators(tmp_path / "h.safetensors")
    weight = loaded.generators.stage1.unet.heads[1].conv.weight
    assert weight.dtype == torch.float32
    torch.testing.assert_close(
        weight, generators.stage1.unet.heads[1].conv.weight, atol=1e-3, rtol=1e-3
    )


@pytest.fixture
def saved(tmp_path):
    torch.manual_seed(0)
    path = tmp_path / "g.safetensors"
    save_generators(path, build_generators(CONFIG), _metadata())
    return path


def test_truncated_file_is_a_clear_error(saved) -> None:
    data = saved.read_bytes()
    saved.write_bytes(data[: len(data) // 2])
    with pytest.raises(CheckpointError, match="corrupt or truncated"):
        load_generators(saved)


def test_corrupt_header_is_a_clear_error(saved) -> None:
    data = bytearray(saved.read_bytes())
    data[8:20] = b"not json!!!!"
    saved.write_bytes(bytes(data))
    with pytest.raises(CheckpointError, match="not a readable safetensors"):
        load_generators(saved)


def test_random_bytes_and_missing_file(tmp_path) -> None:
    junk = tmp_path / "junk.safetensors"
    junk.write_bytes(bytes(range(256)) * 10)
    with pytest.raises(CheckpointError, match="not a readable safetensors"):
        load_generators(junk)
    with pytest.raises(CheckpointError, match="not found"):
        load_generators(tmp_path / "missing.safetensors")


def _rewrite_metadata(path, edit) -> None:
    """Rewrite the safetensors JSON header in place (length prefix + JSON + data)."""
    data = path.read_bytes()
    (length,) = struct.unpack("<Q", data[:8])
    header = json.loads(data[8 : 8 + length])
    edit(header)
    encoded = json.dumps(header).encode()
    encoded += b" " * (-len(encoded) % 8)
    path.write_bytes(struct.pack("<Q", len(encoded)) + encoded + data[8 + length :])


def test_invalid_metadata_names_the_field(saved) -> None:
    def edit(header):
        meta = json.loads(header["__metadata__"]["isegan"])
        meta["architecture"]["generator"]["base_channels"] = -3
        header["__metadata__"]["isegan"] = json.dumps(meta)

    _rewrite_metadata(saved, edit)
    with pytest.raises(CheckpointError, match=r"architecture\.generator\.base_channels"):
        load_generators(saved)


def test_missing_metadata_and_wrong_kind(saved, tmp_path) -> None:
    with pytest.raises(CheckpointError, match="is a 'generator' checkpoint, expected a 'parser'"):
        load_parser(saved)

    def drop(header):
        del header["__metadata__"]

    _rewrite_metadata(saved, drop)
    with pytest.raises(CheckpointError, match="no isegan metadata"):
        load_generators(saved)


def test_newer_format_is_refused(saved) -> None:
    def bump(header):
        meta = json.loads(header["__metadata__"]["isegan"])
        meta["format_version"] = 99
        header["__metadata__"]["isegan"] = json.dumps(meta)

    _rewrite_metadata(saved, bump)
    with pytest.raises(CheckpointError, match="format 99"):
        load_generators(saved)


def test_config_and_weights_disagree(saved) -> None:
    def widen(header):
        meta = json.loads(header["__metadata__"]["isegan"])
        meta["architecture"]["generator"]["base_channels"] = 8
        header["__metadata__"]["isegan"] = json.dumps(meta)

    _rewrite_metadata(saved, widen)
    with pytest.raises(
        CheckpointError, match=r"shape mismatches: .*file \(4, 3, 4, 4\) vs network \(8, 3, 4, 4\)"
    ):
        load_generators(saved)


def test_metadata_is_readable_json(saved) -> None:
    _, metadata = read_checkpoint(saved, GeneratorMetadata)
    assert metadata.architecture == CONFIG
    assert metadata.kind == "generator"
