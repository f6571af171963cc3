"""isegan checkpoints: safetensors weights plus a JSON metadata block.

The metadata records how the weights were made (architecture, training config, data
split and its hash, parser used, metrics, code version, time) so every output can be
traced. The model id is the SHA-256 of the whole file, metadata included.
"""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path
from typing import Any, Literal, TypeVar

import torch
from pydantic import Field, ValidationError
from safetensors import SafetensorError, safe_open
from safetensors.torch import save_file
from torch import nn

from isegan.model.config import FrozenConfig, IseganConfig, ParserConfig, PreprocessConfig
from isegan.model.errors import CheckpointError
from isegan.model.stamps import file_sha256, utc_now
from isegan.model.version import code_version
from isegan.model.weights.third_party import load_matching_state_dict

FORMAT_VERSION = 1
METADATA_KEY = "isegan"


class DataRecord(FrozenConfig):
    """Which pairs trained the weights; ``ids_sha256`` hashes the sorted split list."""

    name: str
    split: str
    num_pairs: int
    ids_sha256: str


class ParserRecord(FrozenConfig):
    """The parser that made P_s (and P_p) during training."""

    id: str
    description: str = ""


class CheckpointMetadata(FrozenConfig):
    format_version: int = FORMAT_VERSION
    created_at: str
    code_version: str
    training: dict[str, Any] | None = None
    data: DataRecord | None = None
    metrics: dict[str, float | None] = Field(default_factory=dict)
    notes: str = ""


class GeneratorMetadata(CheckpointMetadata):
    kind: Literal["generator"] = "generator"
    architecture: IseganConfig
    preprocess: PreprocessConfig = PreprocessConfig()
    parser: ParserRecord | None = None


class ParserMetadata(CheckpointMetadata):
    kind: Literal["parser"] = "parser"
    architecture: ParserConfig


MetadataT = TypeVar("MetadataT", bound=CheckpointMetadata)


def new_metadata_fields() -> dict[str, str]:
    """Fields every new checkpoint gets: creation time and the code that wrote it."""
    return {"created_at": utc_now(), "code_version": code_version()}


def save_checkpoint(
    path: str | Path,
    networks: dict[str, nn.Module],
    metadata: CheckpointMetadata,
    *,
    dtype: torch.dtype | None = None,
) -> str:
    """Write ``networks`` (prefix -> module) and ``metadata`` atomically; return the model id.

    Wrappers from DDP (``.module``) and torch.compile (``._orig_mod``) are stripped.
    ``dtype`` (e.g. ``torch.float16``) shrinks floating-point storage; loading restores
    the network's own dtype.
    """
    tensors: dict[str, torch.Tensor] = {}
    for prefix, network in networks.items():
        network = _unwrap(network)
        for key, value in network.state_dict().items():
            value = value.detach().to("cpu")
            if dtype is not None and value.is_floating_point():
                value = value.to(dtype)
            tensors[f"{prefix}.{key}"] = value.contiguous()
    header = {METADATA_KEY: metadata.model_dump_json()}
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    os.close(handle)
    try:
        save_file(tensors, temporary, metadata=header)
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(temporary, 0o666 & ~umask)  # mkstemp made it owner-only
        os.replace(temporary, path)
    finally:
        if os.path.exists(temporary):
            os.unlink(temporary)
    return file_sha256(path)


def _unwrap(network: nn.Module) -> nn.Module:
    while True:
        inner = getattr(network, "module", None) or getattr(network, "_orig_mod", None)
        if not isinstance(inner, nn.Module):
            return network
        network = inner


def read_checkpoint(
    path: str | Path, metadata_type: type[MetadataT]
) -> tuple[dict[str, torch.Tensor], MetadataT]:
    """Read tensors and validated metadata; every failure is a :class:`CheckpointError`."""
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"checkpoint not found: {path}")
    try:
        with safe_open(str(path), framework="pt", device="cpu") as handle:
            header = handle.metadata() or {}
            tensors = {key: handle.get_tensor(key) for key in handle.keys()}  # noqa: SIM118
    except (SafetensorError, OSError, ValueError, RuntimeError) as error:
        raise CheckpointError(
            f"{path} is not a readable safetensors checkpoint (corrupt or truncated?): {error}"
        ) from error
    if METADATA_KEY not in header:
        raise CheckpointError(
            f"{path} has no isegan metadata block; it was not written by isegan "
            "(third-party .pth weights are loaded through their own loaders)"
        )
    try:
        raw = json.loads(header[METADATA_KEY])
    except json.JSONDecodeError as error:
        raise CheckpointError(f"{path}: metadata is not valid JSON: {error}") from error
    expected_kind = metadata_type.model_fields["kind"].default
    if isinstance(raw, dict) and raw.get("kind") != expected_kind:
        raise CheckpointError(
            f"{path} is a {raw.get('kind')!r} checkpoint, expected a {expected_kind!r} one"
        )
    if isinstance(raw, dict) and raw.get("format_version", FORMAT_VERSION) > FORMAT_VERSION:
        raise CheckpointError(
            f"{path} uses checkpoint format {raw['format_version']}; this isegan reads up to "
            f"{FORMAT_VERSION}. Upgrade isegan."
        )
    try:
        metadata = metadata_type.model_validate(raw)
    except ValidationError as error:
        raise CheckpointError(f"{path}: invalid metadata: {_brief(error)}") from error
    return tensors, metadata


def _brief(error: ValidationError) -> str:
    return "; ".join(
        f"{'.'.join(str(part) for part in item['loc'])}: {item['msg']}" for item in error.errors()
    )


def load_into(
    network: nn.Module, tensors: dict[str, torch.Tensor], prefix: str, source: Path | str
) -> None:
    """Fill ``network`` from the ``prefix.*`` tensors, cast to the network's dtype."""
    own = {
        key[len(prefix) + 1 :]: value
        for key, value in tensors.items()
        if key.startswith(f"{prefix}.")
    }
    reference = network.state_dict()
    cast = {
        key: value.to(reference[key].dtype) if key in reference else value
        for key, value in own.items()
    }
    try:
        load_matching_state_dict(network, cast, f"checkpoint {source} [{prefix}]")
    except ValueError as error:
        raise CheckpointError(str(error)) from error


def check_no_stray_tensors(
    tensors: dict[str, torch.Tensor], prefixes: list[str], source: Path | str
) -> None:
    stray = sorted({key.split(".", 1)[0] for key in tensors} - set(prefixes))
    if stray:
        raise CheckpointError(
            f"checkpoint {source} holds networks {stray} that its metadata does not describe"
        )
