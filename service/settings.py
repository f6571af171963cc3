"""Every setting of the REST service, in one typed place.

Values come, highest priority first, from keyword arguments (the ``isegan serve`` flags),
``ISEGAN_*`` environment variables, the TOML file named by ``ISEGAN_SETTINGS_FILE``, and
the defaults below. Lists are given as JSON in the environment, e.g.
``ISEGAN_CORS_ORIGINS='["https://examiner.example"]'``.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Literal

from pydantic import Field, field_validator, model_validator
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

from isegan.model.alignment.align import LandmarkBackend
from isegan.model.canonicalise import CANONICALISE_BY_DEFAULT, CanonicaliseConfig
from isegan.model.inference_options import Backend, InferenceOptions, Precision
from isegan.model.parsing import ParserBackend
from isegan.provenance.installation import default_data_dir
from isegan.provenance.watermark import WatermarkPrecision
from isegan.service.runtime.batch_sizing import BatchSizing
from isegan.service.uploads import UploadLimits

SETTINGS_FILE_VARIABLE = "ISEGAN_SETTINGS_FILE"

#: Formats Pillow may decode from an upload. Anything else (EPS, PDF, ...) is refused
#: before a decoder runs, so no Ghostscript or other external program can be reached.
DEFAULT_INPUT_FORMATS = ("PNG", "JPEG", "BMP", "TIFF", "WEBP", "GIF", "PPM")

_SHA256_HEX = re.compile(r"^[0-9a-f]{64}$")


class ServiceSettings(BaseSettings):
    """Settings of one ``isegan serve`` process (one model on one device)."""

    model_config = SettingsConfigDict(
        env_prefix="ISEGAN_", extra="forbid", frozen=True, validate_default=True
    )

    # --- model -------------------------------------------------------------------------
    checkpoint: Path | None = Field(
        None, description="Generator checkpoint; the bundled default model when unset."
    )
    parser: Path | None = Field(
        None, description="Face-parser weights; the bundled default parser when unset."
    )
    parser_backend: ParserBackend = "auto"
    model_sha256: str | None = Field(
        None,
        description="Pin the generator: a checkpoint whose SHA-256 (its model id) differs is "
        "refused at start and the service never becomes ready. Unset: not pinned.",
    )
    parser_sha256: str | None = Field(
        None, description="Pin the face parser's file the same way (its parser id)."
    )
    device: str = Field("auto", description="'auto', 'cpu', 'cuda' or 'cuda:N'.")
    deterministic: bool = Field(
        True,
        description="Ask torch for deterministic kernels (needed for byte-identical output "
        "on a GPU; set CUBLAS_WORKSPACE_CONFIG=:4096:8 there as well).",
    )

    precision: Precision = Field(
        "auto",
        description="auto: bf16 where the device computes it natively (AMX/AVX-512 BF16 "
        "CPUs, Ampere+ GPUs), else fp16 on CUDA, else fp32. fp32 is the reference.",
    )
    channels_last: bool = Field(True, description="NHWC memory layout for the networks.")
    fold_batchnorm: bool = Field(True, description="Fold BatchNorm into the convolutions.")
    subpixel_heads: bool = Field(
        True,
        description="Run the generators' output heads at the low resolution with a pixel "
        "shuffle (the same function up to rounding; faster on a CPU).",
    )
    compile: bool = Field(False, description="torch.compile the networks (slow start).")
    backend: Backend = Field(
        "auto",
        description="Runtime of the parser and of G1+G2: auto (on a CPU with openvino "
        "installed, time PyTorch and OpenVINO at the first start on this host and keep the "
        "faster of each), torch, openvino. Every output's record names the one used.",
    )

    # --- network -----------------------------------------------------------------------
    host: str = "127.0.0.1"
    port: int = Field(8000, ge=0, le=65535)
    cors_origins: list[str] = Field(
        default_factory=list, description="Origins allowed by CORS; none (no CORS) by default."
    )
    api_key_sha256: list[str] = Field(
        default_factory=list,
        description="SHA-256 hex digests of the accepted API keys (`isegan api-key` makes "
        "one). Empty: no access control.",
    )
    web_ui: bool = Field(
        True,
        description="Serve the examiner's page at / (files shipped in the package, public; "
        "its API calls still need a key when keys are configured).",
    )

    # --- inference worker ---------------------------------------------------------------
    max_batch_size: int = Field(8, ge=1, le=256, description="Largest micro-batch.")
    max_batch_wait_ms: float = Field(
        0.0,
        ge=0,
        le=10_000,
        description="How long the worker waits to fill a batch. 0: it takes what is "
        "queued at once; under load the requests that arrive during one batch form the "
        "next, so batches fill without any request waiting for company.",
    )
    batch_sizing: BatchSizing = Field(
        "measured",
        description="measured: a batch takes at most the size the worker measured fastest "
        "per sketch (max_batch_size where batching pays; less on CPUs where it does not), "
        "rechecking larger sizes every 16th batch. fixed: always up to max_batch_size.",
    )
    queue_size: int = Field(64, ge=1, description="Requests waiting beyond this get a 503.")
    max_variations: int = Field(
        8,
        ge=0,
        le=32,
        description="Most colour variations one request may ask for (each is a watermarked, "
        "signed photo of its own); more is a 422. 0 turns variations off.",
    )
    request_timeout_s: float = Field(
        60.0, gt=0, description="A request not finished within this gets a 504."
    )
    header_timeout_s: float = Field(
        20.0,
        gt=0,
        description="Request headers must arrive within this many seconds of the connection "
        "opening (or of the previous response): else 408 and the connection is closed.",
    )
    body_timeout_s: float = Field(
        20.0,
        gt=0,
        description="A request body may take this many seconds, plus one per body_min_rate "
        "bytes received: slower is answered 408 (Apache mod_reqtimeout's body=20,MinRate=500).",
    )
    body_min_rate: int = Field(500, ge=1, description="Bytes per second that extend the body time.")
    keep_alive_timeout_s: float = Field(
        5.0, gt=0, description="Close a kept-alive connection idle for this long."
    )
    max_connections: int = Field(
        512, ge=1, description="Concurrent connections; requests beyond them get 503."
    )
    shutdown_timeout_s: float = Field(
        30.0, ge=0, description="On SIGTERM, how long in-flight requests may take to finish."
    )
    retry_after_s: int = Field(1, ge=1, description="Retry-After sent with a 503.")

    # --- uploads -------------------------------------------------------------------------
    max_upload_bytes: int = Field(20 * 1024 * 1024, ge=1024)
    max_pixels: int = Field(
        40_000_000, ge=1, description="Images with more pixels are refused before decoding."
    )
    min_side: int = Field(32, ge=1, description="Smaller images cannot hold a face sketch.")
    input_formats: tuple[str, ...] = DEFAULT_INPUT_FORMATS

    # --- provenance -----------------------------------------------------------------------
    audit_log: Path | None = Field(
        Path("isegan-audit.jsonl"),
        description="Append-only, hash-chained JSONL record of every image served; "
        "an empty value turns it off.",
    )

    data_dir: Path = Field(
        default_factory=default_data_dir,
        description="The installation's folder: its id, its signing key (made on first use "
        "when no c2pa_key is given) and its watermark record numbers. Keep it on a volume.",
    )
    c2pa: Literal["on", "off"] = Field(
        "on",
        description="Sign every output with C2PA Content Credentials: with c2pa_key when "
        "given, else with the installation's own key. 'off' turns signing off.",
    )
    watermark: Literal["on", "off"] = Field(
        "on",
        description="Hide the installation id and a record number in every output photo "
        "(RivaGAN), readable by POST /verify after the metadata is stripped.",
    )
    watermark_precision: WatermarkPrecision = Field(
        "fp32",
        description="Precision of the watermark encoder: auto computes its change in bf16 "
        "where the CPU has native bf16, else fp32 (docs/watermark.md measures both). "
        "Reading is always fp32.",
    )
    c2pa_key: Path | None = Field(
        None,
        description="PEM private key (ES256) of the organisation that signs C2PA Content "
        "Credentials; replaces the installation key.",
    )
    c2pa_cert_chain: Path | None = Field(
        None, description="PEM certificate chain of that key, signer first; with c2pa_key."
    )
    c2pa_trust_anchors: Path | None = Field(
        None,
        description="PEM roots POST /verify trusts; default: the root of c2pa_cert_chain.",
    )

    canonicalise: Literal["on", "off"] = Field(
        "on" if CANONICALISE_BY_DEFAULT else "off",
        description="Bring every sketch to the training sketches' paper and stroke levels "
        "before the model sees it (flattens tinted paper and uneven light, restores a faint "
        "pencil); recorded in every output's options. docs/robustness.md measures it.",
    )

    landmarks: LandmarkBackend = Field(
        "dlib",
        description="What finds the eyes that alignment fits: dlib (dlib's 5-point eye "
        "corners and the iris found between them, installed with isegan) or mediapipe "
        "(FaceMesh's iris centres; needs MediaPipe, installed by hand). On moved CUFS test "
        "sketches neither leaves a gap to the originals beyond the noise (docs/model.md, "
        "'Face alignment'); recorded in every output's record.",
    )

    def canonicalise_config(self) -> CanonicaliseConfig | None:
        """The pipeline's canonicalisation (None: off), as load_pipeline applies it."""
        return CanonicaliseConfig() if self.canonicalise == "on" else None

    @property
    def limits(self) -> UploadLimits:
        """What an upload may be, as the decoder checks it."""
        return UploadLimits(
            max_pixels=self.max_pixels, min_side=self.min_side, formats=self.input_formats
        )

    def inference_options(self) -> InferenceOptions:
        """The inference settings as the pipeline takes them."""
        return InferenceOptions(
            precision=self.precision,
            channels_last=self.channels_last,
            fold_batchnorm=self.fold_batchnorm,
            subpixel_heads=self.subpixel_heads,
            compile=self.compile,
            backend=self.backend,
        )

    @field_validator("api_key_sha256")
    @classmethod
    def _hex_digests(cls, values: list[str]) -> list[str]:
        cleaned = [value.strip().lower() for value in values]
        for value in cleaned:
            if not _SHA256_HEX.match(value):
                raise ValueError("api_key_sha256 holds SHA-256 hex digests, not keys")
        return cleaned

    @field_validator("model_sha256", "parser_sha256")
    @classmethod
    def _one_digest(cls, value: str | None) -> str | None:
        if value is None:
            return None
        cleaned = value.strip().lower()
        if not _SHA256_HEX.match(cleaned):
            raise ValueError("a pinned model is named by the SHA-256 hex digest of its file")
        return cleaned

    @field_validator("input_formats")
    @classmethod
    def _upper_formats(cls, values: tuple[str, ...]) -> tuple[str, ...]:
        return tuple(value.upper() for value in values)

    @field_validator(
        "checkpoint",
        "parser",
        "audit_log",
        "c2pa_key",
        "c2pa_cert_chain",
        "c2pa_trust_anchors",
        "model_sha256",
        "parser_sha256",
        mode="before",
    )
    @classmethod
    def _empty_is_unset(cls, value: object) -> object:
        """An empty variable (as compose passes an unset one) means "not given"."""
        return None if value in ("", None) else value

    @model_validator(mode="after")
    def _sane_limits(self) -> ServiceSettings:
        if self.min_side * self.min_side > self.max_pixels:
            raise ValueError("min_side squared exceeds max_pixels: no image could pass")
        if (self.c2pa_key is None) != (self.c2pa_cert_chain is None):
            raise ValueError("c2pa_key and c2pa_cert_chain go together: give both or neither")
        return self

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        sources: list[PydanticBaseSettingsSource] = [init_settings, env_settings]
        settings_file = os.environ.get(SETTINGS_FILE_VARIABLE)
        if settings_file:
            path = Path(settings_file)
            if not path.is_file():
                raise ValueError(f"{SETTINGS_FILE_VARIABLE}={settings_file}: no such file")
            sources.append(TomlConfigSettingsSource(settings_cls, toml_file=path))
        return tuple(sources)
