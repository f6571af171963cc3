"""What one running service holds: the pipeline, its worker, the audit log, readiness."""

from __future__ import annotations

import functools
import importlib.util
import logging
import time
from dataclasses import dataclass, field
from pathlib import Path

import torch
from PIL import Image

from isegan.model.alignment.five_points import locate_five_point_model
from isegan.model.cufs_frame import CUFS_SIZE
from isegan.model.device import resolve_device
from isegan.model.errors import MissingComponentError, WeightsError
from isegan.model.long_lived import freeze_long_lived_objects
from isegan.model.pipeline import FacePipeline
from isegan.model.stamps import file_sha256
from isegan.model.version import code_version
from isegan.model.weights.pretrained import default_generator_path, default_parser_path
from isegan.provenance.audit import AuditLog
from isegan.provenance.credentials import CredentialSigner
from isegan.provenance.installation import Installation
from isegan.provenance.render import PhotoMarker
from isegan.provenance.signing import SigningSetup, choose_signing, installations_in_roots
from isegan.provenance.stamp import Stamper
from isegan.provenance.watermark import Watermarker
from isegan.service.prometheus import ServiceMetrics
from isegan.service.runtime.worker import InferenceWorker
from isegan.service.settings import ServiceSettings

logger = logging.getLogger(__name__)


@dataclass
class ServiceState:
    settings: ServiceSettings
    metrics: ServiceMetrics
    pipeline: FacePipeline | None = None
    worker: InferenceWorker | None = None
    audit: AuditLog | None = None
    signing: SigningSetup | None = None
    trust_anchors: str | None = None  # PEM roots for POST /verify
    installation: Installation | None = None
    #: Installations whose watermark POST /verify can read: this one and those named by
    #: the trusted roots (set at start; neither changes while the service runs).
    known_installations: list[str] = field(default_factory=list)
    watermarker: Watermarker | None = None
    marker: PhotoMarker | None = None  # marks each request's photos (watermark on)
    stamper: Stamper | None = None  # files and record of each request
    ready: bool = False
    stopping: bool = False
    code_version: str = field(default_factory=code_version)

    @functools.cached_property
    def alignment_available(self) -> bool:
        """dlib and its 5-point model, which alignment needs, are installed (looked up
        once: the installation does not change while the service runs)."""
        if importlib.util.find_spec("dlib") is None:
            return False
        try:
            locate_five_point_model()
        except MissingComponentError:
            return False
        return True

    def start(self) -> None:
        """Load the model, open the audit log and the provenance set-up, start the worker
        after one warm-up inference; only then is the service ready. Blocking: call it
        off the event loop. Everything torch computes, from loading on, runs on the
        worker's thread (``service/runtime/worker.py`` says why)."""
        settings = self.settings
        self.worker = InferenceWorker(
            None,
            device=str(resolve_device(settings.device)),
            metrics=self.metrics,
            max_batch_size=settings.max_batch_size,
            max_batch_wait_s=settings.max_batch_wait_ms / 1000,
            batch_sizing=settings.batch_sizing,
            queue_size=settings.queue_size,
        )
        self.worker.start()
        try:
            pipeline = self.worker.run_on_thread(lambda: load_pipeline(settings))
            if settings.audit_log is not None:
                self.audit = AuditLog(settings.audit_log)
            self._open_provenance(self.worker, pipeline.device)
            self.stamper = Stamper(
                pipeline.model_id, pipeline.parser_id, self.code_version, self.signer
            )
            self.pipeline = pipeline
            self.worker.run_on_thread(lambda: self._warm_up(pipeline))
            frozen = freeze_long_lived_objects()
            logger.debug("froze %d long-lived objects out of the collector's walks", frozen)
        except BaseException:
            self.worker.stop()
            raise
        self.worker.serve(pipeline)
        self.metrics.model.info(
            {
                "model_id": pipeline.model_id,
                "parser_id": pipeline.parser_id,
                "code_version": self.code_version,
                "device": str(pipeline.device),
            }
        )
        self.ready = True
        self._log_ready(pipeline)

    def _open_provenance(self, worker: InferenceWorker, device: torch.device) -> None:
        """The installation, who signs, which roots /verify trusts, and the watermark
        (loaded on, and computed by, the worker's thread, on the model's device)."""
        settings = self.settings
        self.installation = Installation.open(settings.data_dir)
        self.signing = choose_signing(
            settings.c2pa, self.installation, settings.c2pa_key, settings.c2pa_cert_chain
        )
        self.trust_anchors = trust_anchors(settings, self.signing)
        self.known_installations = list(
            dict.fromkeys([self.installation.id, *installations_in_roots(self.trust_anchors)])
        )
        if settings.watermark == "on":
            precision = settings.watermark_precision
            watermarker = worker.run_on_thread(
                lambda: Watermarker.load(precision=precision, device=device)
            )
            watermarker.runner = worker.run_on_thread  # /verify reads on the worker too
            self.watermarker = watermarker
            self.marker = PhotoMarker(
                watermarker, self.installation.id, self.installation.records()
            )

    def _log_ready(self, pipeline: FacePipeline) -> None:
        settings = self.settings
        logger.info(
            "ready: model %s, parser %s on %s (audit log: %s)",
            pipeline.model_id[:12],
            pipeline.parser_id[:12],
            pipeline.device,
            settings.audit_log or "off",
        )
        assert self.installation is not None and self.signing is not None
        logger.info(
            "installation %s (%s): %s; watermark %s",
            self.installation.id,
            settings.data_dir,
            self.signing.describe(),
            settings.watermark,
        )
        if self.signer is None:
            logger.warning("ISEGAN_C2PA=off: outputs are NOT signed (Content Credentials)")

    @property
    def signer(self) -> CredentialSigner | None:
        return self.signing.signer if self.signing is not None else None

    def _warm_up(self, pipeline: FacePipeline) -> None:
        """One inference before traffic: allocations, kernel choices, OpenVINO's graph.
        Under torch.compile every batch size the worker can form has its own graph, built
        now, while the service is not ready, rather than on some request's time."""
        blank = Image.new("RGB", CUFS_SIZE, "white")
        sizes = pipeline.warm_up_batch_sizes(self.settings.max_batch_size)
        for size in sizes:
            started = time.perf_counter()
            try:
                pipeline([blank] * size, align="false")
            except Exception as error:
                if not pipeline.options.compile:
                    raise
                raise RuntimeError(
                    f"torch.compile failed at batch size {size} ({error}); it needs a C++ "
                    "compiler at run time. Set ISEGAN_COMPILE=false to serve without it."
                ) from error
            if pipeline.options.compile:
                logger.info("compiled batch size %d in %.1f s", size, time.perf_counter() - started)

    def stop(self) -> None:
        """Finish queued work, then release the model and close the audit log."""
        self.ready = False
        self.stopping = True
        if self.worker is not None:
            self.worker.stop()
        if self.audit is not None:
            self.audit.close()
        logger.info("stopped")


def trust_anchors(settings: ServiceSettings, signing: SigningSetup) -> str | None:
    """The roots POST /verify trusts: the configured ones, else our own signer's root."""
    if settings.c2pa_trust_anchors is not None:
        return settings.c2pa_trust_anchors.read_text()
    return signing.root


def check_pinned(path: Path, expected: str | None, what: str, setting: str) -> None:
    """Refuse a weights file whose SHA-256 is not the pinned one (before loading it)."""
    if expected is None:
        return
    actual = file_sha256(path)
    if actual != expected:
        raise WeightsError(
            f"{what} {path} has SHA-256 {actual}, but {setting} pins {expected}: refusing "
            "to serve a file that is not the pinned one (changed, corrupted or replaced)"
        )


def load_pipeline(settings: ServiceSettings) -> FacePipeline:
    """The configured (else the bundled) generator and parser, each checked against its
    pinned hash before it is loaded."""
    checkpoint = settings.checkpoint or default_generator_path()
    parser = settings.parser or default_parser_path()
    if checkpoint is None or parser is None:
        raise WeightsError(
            "no generator checkpoint or parser given and no bundled default installed; "
            "set ISEGAN_CHECKPOINT and ISEGAN_PARSER"
        )
    check_pinned(checkpoint, settings.model_sha256, "generator checkpoint", "ISEGAN_MODEL_SHA256")
    check_pinned(parser, settings.parser_sha256, "face parser", "ISEGAN_PARSER_SHA256")
    pipeline = FacePipeline.from_files(
        checkpoint,
        parser,
        device=settings.device,
        parser_backend=settings.parser_backend,
        options=settings.inference_options(),
    )
    pipeline.canonicalise = settings.canonicalise_config()
    pipeline.landmarks = settings.landmarks
    if settings.landmarks != "dlib":
        pipeline.aligner()  # a missing MediaPipe fails the start, not the first request
    if pipeline.device.type == "cuda" and settings.deterministic:
        # CPU inference is deterministic as is; on CUDA, cuDNN must be told.
        torch.backends.cudnn.benchmark = False
        torch.backends.cudnn.deterministic = True
        torch.use_deterministic_algorithms(True, warn_only=True)
    return pipeline
