"""The two-stage inference pipeline: sketch -> P_s -> (P_int, Y1) -> Y2.

:class:`FacePipeline` owns the parser and the generators, runs every stage once per
batch under ``torch.inference_mode`` with the networks in eval mode (running BatchNorm
statistics, no dropout), and returns images at each input's own size. It does no
file I/O: callers decode and encode.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import NamedTuple

import numpy as np
import torch
from PIL import Image
from torch import nn

from isegan.model.alignment.align import (
    EYE_CENTRES,
    Alignment,
    AlignMode,
    LandmarkBackend,
    Landmarker,
    align_face,
    parse_align,
)
from isegan.model.alignment.five_points import FivePointLandmarker
from isegan.model.allocator import keep_freed_memory
from isegan.model.canonicalise import CanonicaliseConfig, canonicalise
from isegan.model.device import resolve_device
from isegan.model.face_classes import NUM_FACE_CLASSES
from isegan.model.inference_options import (
    InferenceOptions,
    autocast,
    channels_last_input,
    compiled,
    fold_batchnorm,
    prepare,
    resolve_precision,
)
from isegan.model.networks.generator import StageOneOutput
from isegan.model.networks.subpixel import rewrite_resize_convs
from isegan.model.openvino_backend import (
    BackendChoice,
    Example,
    OpenVinoNetwork,
    OpenVinoNetworks,
    choose_backends,
    convert_networks,
    describe,
    openvino_available,
)
from isegan.model.parsing import FaceParser, ParserBackend, load_parser
from isegan.model.preprocess import Placement, Preprocess
from isegan.model.stamps import file_sha256
from isegan.model.weights.checkpoint import GeneratorMetadata
from isegan.model.weights.generator_pair import Generators, load_generators


@dataclass(frozen=True)
class PipelineResult:
    """One sketch's outputs, each at the size of the image the networks saw: the sketch's
    own size, or the CUFS frame (200x250) when it was aligned first."""

    photo: Image.Image  # final photo: Y2, or Y1 for a stage-I-only model
    stage1_photo: Image.Image  # Y1
    intermediate_parsing: np.ndarray  # argmax of P_int, (H, W) uint8 class indices
    sketch_parsing: np.ndarray  # argmax of P_s, (H, W) uint8 class indices
    alignment: Alignment | None = None  # set when alignment looked at the sketch

    @property
    def warped(self) -> bool:
        """Whether the networks saw a warped copy (not an already-aligned original)."""
        return self.alignment is not None and not self.alignment.identity

    def photo_on_input(self, sketch: Image.Image) -> Image.Image:
        """The photo in the input's own frame: warped back when the sketch was aligned."""
        if self.alignment is None:
            return self.photo
        return self.alignment.warp_back(self.photo, sketch)


logger = logging.getLogger(__name__)


@dataclass
class StageTimings:
    """Wall-clock seconds per stage for one batch."""

    preprocess: float = 0.0
    parse: float = 0.0
    stage1: float = 0.0
    stage2: float = 0.0
    postprocess: float = 0.0
    extra: dict[str, float] = field(default_factory=dict)

    def stage_seconds(self) -> dict[str, float]:
        """The stages the service reports: pre- and post-processing count as one."""
        stages = {
            "parse": self.parse,
            "stage1": self.stage1,
            "stage2": self.stage2,
            "postprocess": self.preprocess + self.postprocess + self.extra.get("canonicalise", 0.0),
        }
        if "align" in self.extra:
            stages["align"] = self.extra["align"]
        return stages


@dataclass(frozen=True)
class PipelineRun:
    """One batch's results, in input order, and what each stage took."""

    results: list[PipelineResult]
    timings: StageTimings


class GeneratorOutputs(NamedTuple):
    """What G1 then G2 make for a batch: Y2, Y1, P_int (and P_int's class map at the
    canvas when the backend computed it, as OpenVINO's graph does)."""

    final: torch.Tensor
    coarse: torch.Tensor
    intermediate: torch.Tensor
    intermediate_classes: torch.Tensor | None = None


class ClassMaps(NamedTuple):
    """A batch of class probabilities on the canvas, with their first-maximum class map
    where a backend already computed it (None: computed from the probabilities)."""

    probabilities: torch.Tensor
    classes: torch.Tensor | None = None

    def at(self, index: int, placement: Placement, crop_back: Preprocess) -> np.ndarray:
        """Item ``index``'s class map at its input's size."""
        canvas_classes = None if self.classes is None else self.classes[index]
        return crop_back.classes_from_canvas(
            self.probabilities[index], placement, canvas_classes=canvas_classes
        )


class FacePipeline:
    """Parser + G1 (+ G2) on one device; call it with a list of sketches."""

    def __init__(
        self,
        parser: nn.Module,
        generators: Generators,
        *,
        device: torch.device,
        preprocess: Preprocess | None = None,
        model_id: str = "",
        parser_id: str = "",
        metadata: GeneratorMetadata | None = None,
        options: InferenceOptions | None = None,
        landmarks: LandmarkBackend = "dlib",
        canonicalise: CanonicaliseConfig | None = None,
    ) -> None:
        """``options`` default to the eager fp32 reference; the networks are prepared
        for them in place (BatchNorm folded, layout changed), so pass networks the
        pipeline may own. ``landmarks`` chooses alignment's landmark backend;
        ``canonicalise`` (None: off) brings every input to CUFS's paper and stroke levels
        before anything else sees it (:mod:`isegan.model.canonicalise`)."""
        keep_freed_memory()  # process-wide: activations stop faulting in every call
        self._landmarker: Landmarker | None = None
        self._landmarks: LandmarkBackend = landmarks
        self.canonicalise = canonicalise
        self.device = device
        self.options = options or InferenceOptions.reference()
        self.precision = resolve_precision(self.options.precision, device)
        self.parser = parser.to(device).eval()
        self.generators = generators.to(device).eval()
        self.preprocess = preprocess or Preprocess()
        if isinstance(self.parser, FaceParser):  # not facer's TorchScript models
            if self.options.parser_input_size is not None:
                self.parser.input_size = self.options.parser_input_size
            self.parser.direct_resize = self.options.parser_direct_resize
        if self.options.subpixel_heads:  # before conversion: OpenVINO's graphs get it too
            for network in self.generators.networks().values():
                if self.options.fold_batchnorm:  # first: a rewritten layer's norm cannot fold
                    fold_batchnorm(network)
                rewrite_resize_convs(network)
        openvino = self._openvino_networks()  # from the fp32 networks, before prepare
        if isinstance(self.parser, FaceParser):
            prepare(self.parser, self.options, self.precision)
        for network in self.generators.networks().values():
            prepare(network, self.options, self.precision)
        # what each stage calls: the prepared torch networks, or OpenVINO's in their place
        self._parse: Callable[[torch.Tensor], torch.Tensor] = compiled(self.parser, self.options)
        self._stage1: Callable[[torch.Tensor, torch.Tensor], StageOneOutput] = compiled(
            self.generators.stage1, self.options
        )
        self._stage2: Callable[..., torch.Tensor] | None = (
            compiled(self.generators.stage2, self.options)
            if self.generators.stage2 is not None
            else None
        )
        self._fused_generators: OpenVinoNetwork | None = None  # G1+G2 on OpenVINO
        self._openvino_parser: OpenVinoNetwork | None = None
        self.backends = BackendChoice()
        self.openvino_networks = openvino  # converted, whether or not the choice kept them
        if openvino is not None:
            self.backends = self._use_openvino(openvino)
        self.model_id = model_id
        self.parser_id = parser_id
        self.metadata = metadata

    def _openvino_networks(self) -> OpenVinoNetworks | None:
        """The networks converted for OpenVINO when the options ask for it (explicitly,
        or ``auto`` on a CPU where openvino is installed), else None."""
        backend = self.options.backend
        if backend == "torch" or (backend == "auto" and not self._openvino_may_help()):
            return None
        if self.device.type != "cpu":
            raise ValueError(f"the openvino backend runs on the CPU, not {self.device}")
        if self.options.compile:
            raise ValueError("the openvino backend and torch.compile exclude each other")
        size = self.preprocess.config.canvas_size
        return convert_networks(
            self.parser if isinstance(self.parser, FaceParser) else None,
            self.generators,
            Example.canvas(size, NUM_FACE_CLASSES),
            self.precision,
            facts=(getattr(self.parser, "input_size", 0), self.options.parser_direct_resize),
        )

    def _openvino_may_help(self) -> bool:
        return self.device.type == "cpu" and not self.options.compile and openvino_available()

    def _use_openvino(self, openvino: OpenVinoNetworks) -> BackendChoice:
        """Swap in the OpenVINO networks: all of them when asked for, else each (parser,
        generators) where it timed faster than PyTorch on this host."""
        example = Example.canvas(self.preprocess.config.canvas_size, NUM_FACE_CLASSES)
        sketch = channels_last_input(example.sketch.to(self.device), self.options)
        parsing = channels_last_input(example.parsing.to(self.device), self.options)
        torch_parse, torch_stage1, torch_stage2 = self._parse, self._stage1, self._stage2

        def torch_parser() -> object:
            with torch.inference_mode(), autocast(self.precision, self.device):
                return torch_parse(sketch)

        def torch_generators() -> object:
            with torch.inference_mode(), autocast(self.precision, self.device):
                first = torch_stage1(sketch, parsing)
                if torch_stage2 is None:
                    return first
                return torch_stage2(parsing, first.parsing, first.photo, sketch)

        if self.options.backend == "openvino":
            choice = BackendChoice(
                "openvino" if openvino.parser is not None else "torch", "openvino"
            )
        else:
            choice = choose_backends(openvino, example, torch_parser, torch_generators)
        if choice.parser == "openvino" and openvino.parser is not None:
            self._openvino_parser = openvino.parser
        if choice.generators == "openvino":
            self._fused_generators = openvino.generators
        logger.debug("inference backends: parser %s, G1+G2 %s (%s)", choice.parser,
                    choice.generators, choice.describe())  # fmt: skip
        return choice

    @property
    def landmarks(self) -> LandmarkBackend:
        """Alignment's landmark backend (``dlib`` or ``mediapipe``)."""
        return self._landmarks

    @landmarks.setter
    def landmarks(self, backend: LandmarkBackend) -> None:
        # another backend drops the loaded landmarker: aligner() must not hand out the old one
        if self._landmarker is not None and backend != self._landmarks:
            self._landmarker = None
        self._landmarks = backend

    def aligner(self) -> Landmarker:
        """The landmarker of ``landmarks``, loaded on first use (only aligned requests
        need it); a service calls it at start-up so a missing backend fails there."""
        if self._landmarker is None:
            if self.landmarks == "mediapipe":
                from isegan.model.alignment.landmarks import FaceLandmarker

                self._landmarker = FaceLandmarker()
            else:
                self._landmarker = FivePointLandmarker()
        return self._landmarker

    @classmethod
    def from_files(
        cls,
        checkpoint: str | Path,
        parser: str | Path,
        device: str = "auto",
        parser_backend: ParserBackend = "auto",
        options: InferenceOptions | None = None,
    ) -> FacePipeline:
        """Load a generator checkpoint and a parser weights file onto ``device``."""
        target = resolve_device(device)
        loaded = load_generators(checkpoint, target)
        loaded_parser = load_parser(parser, target, parser_backend)
        return cls(
            loaded_parser.parser,
            loaded.generators,
            device=target,
            preprocess=Preprocess(loaded.metadata.preprocess),
            model_id=file_sha256(checkpoint),
            parser_id=loaded_parser.parser_id,
            metadata=loaded.metadata,
            options=options,
        )

    def inference_record(self) -> dict[str, str | bool | int]:
        """How the networks run here, for provenance: the options as resolved."""
        return {
            "device": str(self.device),
            "precision": self.precision,
            "channels_last": self.options.channels_last,
            "fold_batchnorm": self.options.fold_batchnorm,
            "subpixel_heads": self.options.subpixel_heads,
            "compile": self.options.compile,
            "parser_input_size": getattr(self.parser, "input_size", 0),
            "parser_direct_resize": getattr(self.parser, "direct_resize", False),
            "canonicalise": self.canonicalise is not None,
            "landmarks": self.landmarks,
            "eye_centres": EYE_CENTRES[self.landmarks],
            "parser_backend": describe(self.backends.parser, self.precision),
            "generator_backend": describe(self.backends.generators, self.precision),
            "backend_choice": self.backends.describe(),
        }

    def generate(
        self, sketch: torch.Tensor, sketch_parsing: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """G1 then G2 alone on canvases (sketch in [-1, 1], P_s as probabilities), on
        the backend that runs them here: (Y2, Y1, P_int) in fp32. For benchmarks and
        peers; :meth:`run` is the pipeline."""
        sketch = self._layout(sketch.to(self.device), self.backends.generators)
        sketch_parsing = self._layout(sketch_parsing.to(self.device), self.backends.generators)
        with torch.inference_mode(), autocast(self.precision, self.device):
            made = self._g1_g2(sketch, sketch_parsing)
        return made.final.float(), made.coarse.float(), made.intermediate.float()

    def _g1_g2(
        self,
        sketch: torch.Tensor,
        sketch_parsing: torch.Tensor,
        timings: StageTimings | None = None,
    ) -> GeneratorOutputs:
        """Y2, Y1 and P_int, timing each stage into ``timings``. On OpenVINO G1 and G2 are
        one graph (its time is stage1's and stage2's is 0), which also gives P_int's class
        map."""
        timings = timings or StageTimings()
        started = time.perf_counter()
        if self._fused_generators is not None:
            final, coarse, intermediate, classes = self._fused_generators(sketch, sketch_parsing)
            timings.stage1 = self._elapsed(started)
            return GeneratorOutputs(final, coarse, intermediate, classes)
        first = self._stage1(sketch, sketch_parsing)
        timings.stage1 = self._elapsed(started)
        started = time.perf_counter()
        final = first.photo
        if self._stage2 is not None:
            final = self._stage2(sketch_parsing, first.parsing, first.photo, sketch)
        timings.stage2 = self._elapsed(started)
        return GeneratorOutputs(final, first.photo, first.parsing)

    def warm_up_batch_sizes(self, max_batch_size: int) -> list[int]:
        """The batch sizes a service should run once before it takes traffic: every
        size under torch.compile (a graph each, built on its first call), else 1
        (allocations, kernel choices; OpenVINO's one dynamic-batch graph)."""
        if self.options.compile:
            return list(range(1, max_batch_size + 1))
        return [1]

    @property
    def two_stage(self) -> bool:
        return self.generators.stage2 is not None

    def __call__(
        self,
        sketches: Sequence[Image.Image],
        *,
        align: AlignMode | bool = "auto",
        sketch_parsings: Sequence[np.ndarray | None] | None = None,
    ) -> list[PipelineResult]:
        """The results of :meth:`run`, without the timings."""
        return self.run(sketches, align=align, sketch_parsings=sketch_parsings).results

    def run(
        self,
        sketches: Sequence[Image.Image],
        *,
        align: AlignMode | bool = "auto",
        sketch_parsings: Sequence[np.ndarray | None] | None = None,
    ) -> PipelineRun:
        """Run every stage once for the whole batch; the results come with the batch's
        stage timings.

        ``align``: ``"auto"`` (the default) warps each sketch to the CUFS frame unless it
        is already there (then it passes through untouched) or comes with its own parsing
        map (which pins its frame); ``"true"`` aligns every sketch; ``"false"`` none.
        A sketch alignment looks at but finds no face in is a :class:`NoFaceFoundError`.

        ``sketch_parsings`` may give, per sketch, an (H, W) class map at the sketch's size
        that replaces the parser's P_s: an examiner's corrected parsing. It cannot be
        combined with ``align="true"`` (the map is in the input's frame, not the aligned
        one).
        """
        if not sketches:
            return PipelineRun([], StageTimings())
        mode = parse_align(align)
        overrides = self._checked_overrides(sketches, mode, sketch_parsings)
        timings = StageTimings()
        if self.canonicalise is not None:
            started = time.perf_counter()
            sketches = [canonicalise(s, self.canonicalise) for s in sketches]
            timings.extra["canonicalise"] = time.perf_counter() - started
        alignments = self._align(sketches, mode, overrides, timings)
        sketches = [s if a is None else a.image for s, a in zip(sketches, alignments, strict=True)]
        started = time.perf_counter()
        canvases, placements = zip(*(self.preprocess.to_canvas(s) for s in sketches), strict=True)
        batch = torch.from_numpy(np.stack([c.numpy() for c in canvases])).to(self.device)
        parser_batch = self._layout(batch, self.backends.parser)
        batch = self._layout(batch, self.backends.generators)
        timings.preprocess = time.perf_counter() - started

        with torch.inference_mode(), autocast(self.precision, self.device):
            started = time.perf_counter()
            parsed = self._sketch_parsing(parser_batch, placements, overrides)
            sketch_parsing = self._layout(parsed.probabilities, self.backends.generators)
            timings.parse = self._elapsed(started)

            made = self._g1_g2(batch, sketch_parsing, timings)

        started = time.perf_counter()
        sketch_maps = ClassMaps(sketch_parsing.float(), parsed.classes)
        intermediate_maps = ClassMaps(made.intermediate.float(), made.intermediate_classes)
        results = [
            self._result(index, placement, made, sketch_maps, intermediate_maps, alignments[index])
            for index, placement in enumerate(placements)
        ]
        for index, class_map in enumerate(overrides):
            if class_map is not None:  # report the examiner's map itself, not a resampling
                results[index] = replace(results[index], sketch_parsing=class_map.astype(np.uint8))
        timings.postprocess = time.perf_counter() - started
        return PipelineRun(results, timings)

    @staticmethod
    def _checked_overrides(
        sketches: Sequence[Image.Image],
        mode: AlignMode,
        sketch_parsings: Sequence[np.ndarray | None] | None,
    ) -> list[np.ndarray | None]:
        """The supplied parsing maps, one per sketch (or none at all)."""
        overrides = list(sketch_parsings) if sketch_parsings is not None else []
        if overrides and len(overrides) != len(sketches):
            raise ValueError(f"{len(overrides)} parsing maps for {len(sketches)} sketches")
        if mode == "true" and any(o is not None for o in overrides):
            raise ValueError("a supplied sketch parsing cannot be combined with alignment")
        return overrides

    def _align(
        self,
        sketches: Sequence[Image.Image],
        mode: AlignMode,
        overrides: Sequence[np.ndarray | None],
        timings: StageTimings,
    ) -> list[Alignment | None]:
        """Each sketch's alignment to the CUFS frame (None: used as it is). A supplied
        parsing map pins its sketch's frame."""
        if mode == "false":
            return [None] * len(sketches)
        started = time.perf_counter()
        supplied = overrides or [None] * len(sketches)
        alignments = [
            align_face(s, self.aligner()) if parsing is None else None
            for s, parsing in zip(sketches, supplied, strict=True)
        ]
        timings.extra["align"] = time.perf_counter() - started
        return alignments

    def _run_parser(self, batch: torch.Tensor) -> ClassMaps:
        """P_s in fp32 (with its class map, from OpenVINO). Third-party parsers (facer's
        TorchScript models) were not made for mixed precision, so they run in fp32
        whatever the options say."""
        if self._openvino_parser is not None:
            probabilities, classes = self._openvino_parser(batch)
            return ClassMaps(probabilities, classes)
        if isinstance(self.parser, FaceParser):
            parsed: torch.Tensor = self._parse(batch)
        else:
            with torch.autocast(self.device.type, enabled=False):
                parsed = self._parse(batch.float())
        return ClassMaps(parsed.float())

    def _layout(self, tensor: torch.Tensor, backend: str) -> torch.Tensor:
        """The memory layout the network reading ``tensor`` wants: channels_last for a
        prepared torch network, as it is for OpenVINO (which takes NCHW; converting for
        it measured 5 ms per G1+G2 call on two cores, torch's threads waking for a copy
        OpenVINO then undoes)."""
        return channels_last_input(tensor, self.options) if backend == "torch" else tensor

    def _elapsed(self, started: float) -> float:
        """Seconds since ``started``, after the device's queued work has finished."""
        if self.device.type == "cuda":
            torch.cuda.synchronize(self.device)
        return time.perf_counter() - started

    def _sketch_parsing(
        self,
        batch: torch.Tensor,
        placements: Sequence[Placement],
        overrides: Sequence[np.ndarray | None],
    ) -> ClassMaps:
        """P_s from the parser, with supplied maps (as one-hot) in place of its rows."""
        if not any(o is not None for o in overrides):
            return self._run_parser(batch)
        parsing = torch.empty(
            (batch.shape[0], NUM_FACE_CLASSES, *batch.shape[-2:]), device=batch.device
        )
        needs_parser = [i for i, o in enumerate(overrides) if o is None]
        if needs_parser:
            parsing[needs_parser] = self._run_parser(batch[needs_parser]).probabilities
        for index, class_map in enumerate(overrides):
            if class_map is not None:
                one_hot = self.preprocess.classes_to_canvas(
                    class_map, placements[index], NUM_FACE_CLASSES
                )
                parsing[index] = one_hot.to(batch.device)
        return ClassMaps(parsing)

    def _result(
        self,
        index: int,
        placement: Placement,
        made: GeneratorOutputs,
        sketch_parsing: ClassMaps,
        intermediate_parsing: ClassMaps,
        alignment: Alignment | None,
    ) -> PipelineResult:
        crop_back = self.preprocess
        return PipelineResult(
            photo=crop_back.image_from_canvas(made.final[index].float(), placement),
            stage1_photo=crop_back.image_from_canvas(made.coarse[index].float(), placement),
            intermediate_parsing=intermediate_parsing.at(index, placement, crop_back),
            sketch_parsing=sketch_parsing.at(index, placement, crop_back),
            alignment=alignment,
        )


def parse_sketches(
    parser: nn.Module,
    sketches: Sequence[Image.Image],
    *,
    device: torch.device,
    preprocess: Preprocess | None = None,
) -> list[np.ndarray]:
    """Sketch parsing P_s alone, as (H, W) class maps at each sketch's size."""
    if not sketches:
        return []
    preprocess = preprocess or Preprocess()
    canvases, placements = zip(*(preprocess.to_canvas(s) for s in sketches), strict=True)
    parser = parser.to(device).eval()
    with torch.inference_mode():
        probabilities = parser(torch.stack(canvases).to(device))
    return [
        preprocess.classes_from_canvas(probabilities[index], placement)
        for index, placement in enumerate(placements)
    ]
