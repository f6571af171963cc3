"""OpenVINO as the inference backend for the parser and the generators on a CPU host.

On some CPUs OpenVINO runs the same networks faster than PyTorch (on a 2-core AVX-512
BF16 EPYC: G1+G2 28 ms against 36 ms per sketch, docs/performance.md); on others (a Xeon
with AMX) PyTorch's own path was ahead. So the pipeline does not assume: with the
``auto`` backend it converts each network, times both backends on the host it runs on
and keeps the fastest pairing (:func:`choose_backends`: the parser then G1+G2, timed as
they run), and the provenance record says which one made every photo.

Each network is converted once from its fp32 PyTorch module (``openvino.convert_model``),
kept in memory and on disk under the cache directory, keyed by the SHA-256 of its
weights and of everything that changes its graph, then compiled on first use, once, with
a dynamic batch (a fraction of a second). The precision follows the pipeline's: bf16
where the CPU computes it natively, else fp32, the same contract and the same tests
against eager fp32 as the PyTorch path.
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import logging
import platform
import tempfile
import threading
import time
import warnings
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import torch
from torch import nn

from isegan.model.errors import MissingComponentError
from isegan.model.export import GeneratorGraph
from isegan.model.identity.face_recognition import default_cache_dir
from isegan.model.inference_options import ResolvedPrecision
from isegan.model.weights.generator_pair import Generators

if TYPE_CHECKING:
    import openvino

logger = logging.getLogger(__name__)

INSTALL_HINT = "the openvino backend needs the openvino package: pip install 'isegan[openvino]'"
_CACHE_FORMAT = "isegan-openvino-3"  # bump when what is converted changes
_memory: dict[str, openvino.Model] = {}
_memory_lock = threading.Lock()


def openvino_available() -> bool:
    """Whether the openvino package is installed (without importing it)."""
    return importlib.util.find_spec("openvino") is not None


def openvino_version() -> str:
    import openvino

    return str(openvino.__version__).split("-")[0]


def weights_digest(module: nn.Module, *facts: object) -> str:
    """SHA-256 of a module's parameters and buffers and of ``facts`` (whatever else
    shapes its graph): the key its converted model is cached under."""
    digest = hashlib.sha256(_CACHE_FORMAT.encode())
    for fact in facts:
        digest.update(repr(fact).encode())
    for name, tensor in module.state_dict().items():
        digest.update(name.encode())
        digest.update(tensor.detach().float().cpu().contiguous().numpy().tobytes())
    return digest.hexdigest()


def converted_model(
    module: nn.Module,
    example: tuple[torch.Tensor, ...],
    key: str,
    cache_dir: Path | None = None,
) -> openvino.Model:
    """``module`` (fp32, eval mode) as an OpenVINO model: from this process's memory, else
    from the disk cache, else converted now and saved there (best effort)."""
    import openvino

    with _memory_lock:
        if key in _memory:
            return _memory[key]
    folder = _cache_folder(cache_dir)
    xml = folder / f"{key[:32]}.xml"
    model: openvino.Model | None = None
    if xml.is_file() and xml.with_suffix(".bin").is_file():
        try:
            model = openvino.Core().read_model(str(xml))
        except RuntimeError as error:  # a truncated or foreign file: convert again
            logger.warning("OpenVINO cache %s unreadable (%s): converting again", xml, error)
    if model is None:
        started = time.perf_counter()
        with warnings.catch_warnings(), torch.no_grad():
            warnings.simplefilter("ignore")  # tracing's notices about Python conditions
            model = openvino.convert_model(module, example_input=example)
        logger.debug("converted %s to OpenVINO in %.1f s", type(module).__name__,
                    time.perf_counter() - started)  # fmt: skip
        _save(model, xml)
    with _memory_lock:
        _memory[key] = model
    return model


def _cache_folder(cache_dir: Path | None) -> Path:
    return (cache_dir or default_cache_dir()) / "openvino" / openvino_version()


def _save(model: openvino.Model, xml: Path) -> None:
    """Write the converted model where the next process finds it; a read-only or full
    cache only costs the next process a conversion."""
    import openvino

    try:
        xml.parent.mkdir(parents=True, exist_ok=True)
        # a folder of its own per writer (processes starting together share the cache),
        # removed with whatever a failed write left in it
        with tempfile.TemporaryDirectory(dir=xml.parent, prefix=".partial-") as folder:
            partial = Path(folder) / xml.name
            openvino.save_model(model, str(partial), compress_to_fp16=False)
            partial.with_suffix(".bin").replace(xml.with_suffix(".bin"))
            partial.replace(xml)
    except (OSError, RuntimeError) as error:  # RuntimeError: OpenVINO's own write failed
        logger.warning("could not cache the OpenVINO model in %s: %s", xml.parent, error)


class OpenVinoNetwork:
    """A converted network compiled for the CPU, called with torch tensors.

    One compiled model with a dynamic batch for every batch size: then which requests
    shared a batch cannot change a photo (static graphs per size measured 3-6 % faster
    at batch 1, but a static batch-1 graph and the batched graph gave photos 3 grey
    levels apart, where the service promises one). One inference request per thread,
    so the service's worker and a CLI batch never share a request."""

    def __init__(
        self,
        model: openvino.Model,
        precision: ResolvedPrecision,
        threads: int | None = None,
        key: str = "",
    ) -> None:
        import openvino

        self.key = key  # the converted model's cache key
        self._core = openvino.Core()
        self._model = model
        self._config = {
            "PERFORMANCE_HINT": "LATENCY",
            "INFERENCE_NUM_THREADS": threads or torch.get_num_threads(),
            "INFERENCE_PRECISION_HINT": "bf16" if precision == "bf16" else "f32",
        }
        self.precision = precision
        self._compiled: dict[tuple[tuple[int, ...], ...], Any] = {}
        self._lock = threading.Lock()
        self._local = threading.local()

    def _compiled_for(self, shapes: tuple[tuple[int, ...], ...]) -> Any:
        shapes = tuple((-1, *shape[1:]) for shape in shapes)  # one graph, any batch
        with self._lock:
            compiled = self._compiled.get(shapes)
            if compiled is None:
                model = self._model.clone()
                ports = zip(model.inputs, shapes, strict=True)
                model.reshape({port: list(shape) for port, shape in ports})
                compiled = self._core.compile_model(model, "CPU", self._config)
                self._compiled[shapes] = compiled
        return compiled

    def __call__(self, *inputs: torch.Tensor) -> list[torch.Tensor]:
        # An input the network never reads (P_s, for a G1 that does not encode it) is not
        # in the converted graph; it is always the last.
        inputs = inputs[: len(self._model.inputs)]
        arrays = [np.ascontiguousarray(x.detach().float().cpu().numpy()) for x in inputs]
        shapes = tuple(tuple(a.shape) for a in arrays)
        compiled = self._compiled_for(shapes)
        requests: dict[int, Any] = self._local.__dict__.setdefault("requests", {})
        request = requests.get(id(compiled))
        if request is None:
            request = requests[id(compiled)] = compiled.create_infer_request()
        # Inputs are read in place (the call is synchronous, so they cannot change under
        # it); outputs come back as OpenVINO's copies, since the request reuses its output
        # buffers on the next call. Copying the inputs and the outputs once more had cost
        # G1+G2 0.2 ms a call, most of what separated it from the same graph run plainly.
        results = request.infer(arrays, share_inputs=True, share_outputs=False)
        return [torch.from_numpy(results[port]) for port in compiled.outputs]


@dataclass(frozen=True)
class Example:
    """Inputs at the pipeline's canvas to convert and time the networks with."""

    sketch: torch.Tensor
    parsing: torch.Tensor

    @classmethod
    def canvas(cls, size: int, classes: int) -> Example:
        generator = torch.Generator().manual_seed(0)
        sketch = torch.rand(1, 3, size, size, generator=generator) * 2 - 1
        logits = torch.randn(1, classes, size, size, generator=generator)
        return cls(sketch, torch.softmax(logits, dim=1))


def median_seconds(
    candidates: dict[str, Callable[[], object]], rounds: int = 5, warm: int = 2
) -> dict[str, float]:
    """Each candidate's median time per call: every one warmed first, then timed in
    alternating rounds so that neither gains from running after the other."""
    for call in candidates.values():
        for _ in range(warm):
            call()
    times: dict[str, list[float]] = {name: [] for name in candidates}
    for _ in range(rounds):
        for name, call in candidates.items():
            started = time.perf_counter()
            call()
            times[name].append(time.perf_counter() - started)
    return {name: float(np.median(values)) for name, values in times.items()}


@dataclass(frozen=True)
class BackendChoice:
    """Which runtime runs the parser and which runs G1+G2, and how that was decided:
    timed on this host (``seconds``: median per call at batch 1, by candidate) or as
    configured (no seconds)."""

    parser: str = "torch"
    generators: str = "torch"
    seconds: dict[str, float] = field(default_factory=dict)

    def describe(self) -> str:
        if not self.seconds:
            return "as configured"
        timed = ", ".join(f"{name} {value * 1000:.1f} ms" for name, value in self.seconds.items())
        return f"timed on this host, fastest kept: {timed}"


_choices: dict[str, BackendChoice] = {}
_CHOICE_FORMAT = 2  # bump when how the choice is timed changes: older choices are retimed


def choose_backends(
    networks: OpenVinoNetworks,
    example: Example,
    torch_parser: Callable[[], object],
    torch_generators: Callable[[], object],
    cache_dir: Path | None = None,
) -> BackendChoice:
    """The fastest pairing of runtimes for the parser then G1+G2, timed here as chains.

    The pairs are timed as they run in the pipeline, the parser then G1+G2, not each
    network alone: a runtime pays for the one before it. On two cores a PyTorch parser
    left its OpenMP threads spinning for milliseconds while OpenVINO's G1+G2 started,
    which cost G1+G2 3.6 ms, more than the parser saved by running on PyTorch.

    Timed once per host, model, precision and thread count, then kept (in this process
    and in the cache directory), so that every pipeline on a host makes the same choice
    and a photo does not depend on which process made it; delete the cached
    ``choice-*.json`` to time again (after a hardware change, say)."""
    host = (torch.__version__, torch.get_num_threads(), platform.machine(), _cpu_model())
    key = hashlib.sha256(repr((_CHOICE_FORMAT, networks.key, host)).encode()).hexdigest()
    if key in _choices:
        return _choices[key]
    path = _cache_folder(cache_dir) / f"choice-{key[:32]}.json"
    choice = _read_choice(path)
    if choice is None:
        choice = _timed_choice(networks, example, torch_parser, torch_generators)
        _write_choice(path, choice)
    _choices[key] = choice
    return choice


def _timed_choice(
    networks: OpenVinoNetworks,
    example: Example,
    torch_parser: Callable[[], object],
    torch_generators: Callable[[], object],
) -> BackendChoice:
    generators: dict[str, Callable[[], object]] = {
        "torch": torch_generators,
        "openvino": lambda: networks.generators(example.sketch, example.parsing),
    }
    if networks.parser is None:
        # A third-party parser stays on PyTorch, and it may refuse the example's noise
        # (facer's needs a face): only G1+G2 is chosen, timed alone.
        seconds = median_seconds({f"G1+G2 {name}": run for name, run in generators.items()})
        generator = min(generators, key=lambda name: seconds[f"G1+G2 {name}"])
        return BackendChoice("torch", generator, seconds)
    ov_parser = networks.parser
    parsers: dict[str, Callable[[], object]] = {
        "torch": torch_parser,
        "openvino": lambda: ov_parser(example.sketch),
    }

    def chain(parse: Callable[[], object], generate: Callable[[], object]) -> Callable[[], None]:
        def run() -> None:
            parse()
            generate()

        return run

    pairs = {
        (parser, generator): chain(parse, generate)
        for parser, parse in parsers.items()
        for generator, generate in generators.items()
    }
    seconds = median_seconds({chain_name(*pair): run for pair, run in pairs.items()}, rounds=7)
    parser, generator = min(pairs, key=lambda pair: seconds[chain_name(*pair)])
    return BackendChoice(parser, generator, seconds)


def chain_name(parser: str, generators: str) -> str:
    """How a timed pairing is named in a :class:`BackendChoice`'s seconds."""
    return f"parser {parser} + G1+G2 {generators}"


def _cpu_model() -> str:
    """The CPU's model name (Linux), so a cached choice does not follow a disk to
    another machine."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return ""


def _read_choice(path: Path) -> BackendChoice | None:
    try:
        data = json.loads(path.read_text())
        return BackendChoice(data["parser"], data["generators"], dict(data["seconds"]))
    except (OSError, ValueError, KeyError, TypeError):
        return None


def _write_choice(path: Path, choice: BackendChoice) -> None:
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryDirectory(dir=path.parent, prefix=".partial-") as folder:
            partial = Path(folder) / path.name
            partial.write_text(json.dumps(asdict(choice), indent=2))
            partial.replace(path)
    except OSError as error:
        logger.warning("could not keep the backend choice in %s: %s", path.parent, error)


@dataclass(frozen=True)
class OpenVinoNetworks:
    """The pipeline's networks converted for OpenVINO: the parser (None: a third-party
    parser, which stays on PyTorch; sketch -> P_s, its class map) and G1 then G2 as one
    graph (:class:`~isegan.model.export.GeneratorGraph`: sketch, P_s -> Y2, Y1, P_int,
    P_int's class map), which measured faster than two graphs with P_int and Y1 passed
    between them. The class maps come from :class:`WithClassMap`."""

    parser: OpenVinoNetwork | None
    generators: OpenVinoNetwork

    @property
    def key(self) -> tuple[str, ...]:
        """What the networks are and how they run: their cache keys and precision."""
        parser = self.parser.key if self.parser is not None else ""
        return (self.generators.precision, parser, self.generators.key)


def convert_networks(
    parser: nn.Module | None,
    generators: Generators,
    example: Example,
    precision: ResolvedPrecision,
    facts: tuple[object, ...] = (),
) -> OpenVinoNetworks:
    """Convert (or fetch from the caches) each fp32 eval-mode network; ``facts`` are the
    settings that change a graph without changing its weights (the parser's input size)."""
    if not openvino_available():
        raise MissingComponentError(INSTALL_HINT)

    def network(
        module: nn.Module, probabilities: int, example_input: tuple[torch.Tensor, ...]
    ) -> OpenVinoNetwork:
        graph = WithClassMap(module, probabilities)
        key = weights_digest(graph, type(module).__name__, probabilities, *facts,
                             *(tuple(x.shape[1:]) for x in example_input))  # fmt: skip
        return OpenVinoNetwork(converted_model(graph, example_input, key), precision, key=key)

    sketch, parsing = example.sketch, example.parsing
    return OpenVinoNetworks(
        parser=network(parser, 0, (sketch,)) if parser is not None else None,
        generators=network(GeneratorGraph(generators).eval(), 2, (sketch, parsing)),
    )


class WithClassMap(nn.Module):
    """A network's outputs and, last, the class map (first-maximum class per pixel, uint8)
    of its output ``probabilities``: computed inside the graph it costs a fraction of a
    millisecond, against 1.1 ms per map for NumPy's arg-max after it (PyTorch's is
    faster but wakes its OpenMP threads, which then slow OpenVINO's next call). Equal
    to the arg-max of the returned probabilities, ties included (first index)."""

    def __init__(self, network: nn.Module, probabilities: int) -> None:
        super().__init__()
        self.network, self.probabilities = network.eval(), probabilities

    def forward(self, *inputs: torch.Tensor) -> tuple[torch.Tensor, ...]:
        outputs = self.network(*inputs)
        outputs = (outputs,) if isinstance(outputs, torch.Tensor) else tuple(outputs)
        classes = outputs[self.probabilities].max(dim=1).indices.to(torch.uint8)
        return (*outputs, classes)


def describe(backend: str, precision: ResolvedPrecision) -> str:
    """'openvino 2026.4.1 bf16' or 'torch 2.11.0 bf16': what the provenance names."""
    version = openvino_version() if backend == "openvino" else torch.__version__.split("+")[0]
    return f"{backend} {version} {precision}"
