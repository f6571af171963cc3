"""OpenVINO as an inference backend: conversion and its caches, the timed choice, the
provenance record, and concurrent use. Real OpenVINO on small networks the tests build
(random weights: what is checked is agreement with PyTorch, not the photo). The bundled
model's agreement with eager fp32 is in test_inference_options.py."""

from __future__ import annotations

import logging
import threading
import time
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image
from torch import nn

from isegan.model import openvino_backend
from isegan.model.config import GeneratorConfig, IseganConfig, PreprocessConfig
from isegan.model.export import GeneratorGraph
from isegan.model.face_classes import NUM_FACE_CLASSES
from isegan.model.inference_options import InferenceOptions, native_bf16
from isegan.model.networks.parser import BiSeNet
from isegan.model.openvino_backend import (
    BackendChoice,
    Example,
    OpenVinoNetwork,
    OpenVinoNetworks,
    WithClassMap,
    chain_name,
    choose_backends,
    convert_networks,
    converted_model,
    median_seconds,
    weights_digest,
)
from isegan.model.parsing import FaceParser
from isegan.model.pipeline import FacePipeline
from isegan.model.preprocess import Preprocess
from isegan.model.weights.generator_pair import build_generators
from tests.extras import require_module
from tests.helpers import TINY_PARSER

require_module("openvino")

SIZE = 64


@pytest.fixture(autouse=True)
def own_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Each test converts into its own cache and starts with empty in-process caches."""
    monkeypatch.setenv("ISEGAN_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setattr(openvino_backend, "_memory", {})
    monkeypatch.setattr(openvino_backend, "_choices", {})
    return tmp_path / "cache"


def _networks(seed: int = 0) -> tuple[FaceParser, object]:
    torch.manual_seed(seed)
    generators = build_generators(
        IseganConfig(generator=GeneratorConfig(base_channels=8, num_levels=4))
    )
    config = TINY_PARSER.model_copy(update={"input_size": SIZE})
    parser = FaceParser(BiSeNet.from_config(config), config)
    return parser.eval(), generators.eval()


def _sketches(count: int) -> list[Image.Image]:
    generator = np.random.default_rng(0)
    return [
        Image.fromarray(generator.integers(0, 255, (SIZE, SIZE, 3), dtype=np.uint8))
        for _ in range(count)
    ]


def _pipeline(options: InferenceOptions, seed: int = 0) -> FacePipeline:
    parser, generators = _networks(seed)
    preprocess = Preprocess(
        PreprocessConfig(canvas_size=SIZE, content_height=SIZE, content_width=SIZE)
    )
    return FacePipeline(
        parser,
        generators,  # type: ignore[arg-type]
        device=torch.device("cpu"),
        preprocess=preprocess,
        options=options,
    )


def _photos(pipeline: FacePipeline, sketches: list[Image.Image]) -> np.ndarray:
    return np.stack([np.asarray(r.photo, np.float64) for r in pipeline(sketches, align="false")])


def test_openvino_fp32_matches_eager_fp32() -> None:
    sketches = _sketches(3)
    reference = _photos(_pipeline(InferenceOptions.reference()), sketches)
    openvino = _pipeline(InferenceOptions(precision="fp32", backend="openvino"))
    assert openvino.backends.generators == "openvino"
    assert openvino.backends.parser == "openvino"
    assert np.abs(_photos(openvino, sketches) - reference).max() <= 1  # rounding only


@pytest.mark.parametrize("precision", ["fp32", "bf16"])
def test_graph_class_maps_are_the_arg_max_of_the_probabilities(precision: str) -> None:
    """The class maps the graphs compute are the first-maximum class of the probabilities
    they return, ties included, so the pipeline may use them in place of its own."""
    if precision == "bf16" and not native_bf16(torch.device("cpu")):
        pytest.skip("bf16 needs a CPU with native bf16")
    parser, generators = _networks()
    example = Example.canvas(SIZE, NUM_FACE_CLASSES)
    networks = convert_networks(parser, generators, example, precision)  # type: ignore[arg-type]
    assert networks.parser is not None
    sketch = torch.rand(3, 3, SIZE, SIZE) * 2 - 1
    parsing, parsing_classes = networks.parser(sketch)
    *_, intermediate, intermediate_classes = networks.generators(sketch, parsing)
    for probabilities, classes in (
        (parsing, parsing_classes),
        (intermediate, intermediate_classes),
    ):
        assert classes.dtype == torch.uint8 and classes.shape == probabilities[:, 0].shape
        np.testing.assert_array_equal(classes.numpy(), probabilities.numpy().argmax(axis=1))
    tied = torch.zeros(1, NUM_FACE_CLASSES, SIZE, SIZE)
    tied[:, 2:5] = 0.3  # three classes tied everywhere: the first of them wins
    assert set(WithClassMap(nn.Identity(), 0)(tied)[-1].unique().tolist()) == {2}


def test_openvino_class_maps_match_the_torch_pipeline() -> None:
    """The pipeline's maps from the graphs' class maps equal those it computes itself
    from the same probabilities, on the canvas and for a resized input."""
    sketches = [*_sketches(2), Image.fromarray(np.full((90, 50, 3), 200, np.uint8))]
    pipeline = _pipeline(InferenceOptions(precision="fp32", backend="openvino"))
    for result, sketch in zip(pipeline(sketches, align="false"), sketches, strict=True):
        assert result.intermediate_parsing.shape == (sketch.height, sketch.width)
    batch = torch.stack([pipeline.preprocess.to_canvas(s)[0] for s in sketches[:2]])
    probabilities, classes = pipeline.openvino_networks.parser(batch)  # type: ignore[union-attr]
    placement = pipeline.preprocess.to_canvas(sketches[0])[1]
    from_graph = pipeline.preprocess.classes_from_canvas(
        probabilities[0], placement, canvas_classes=classes[0]
    )
    computed = pipeline.preprocess.classes_from_canvas(probabilities[0], placement)
    np.testing.assert_array_equal(from_graph, computed)


def test_the_record_names_the_backend_that_made_the_photo() -> None:
    import openvino

    record = _pipeline(InferenceOptions(precision="fp32", backend="openvino")).inference_record()
    assert record["generator_backend"] == f"openvino {openvino.__version__.split('-')[0]} fp32"
    assert record["parser_backend"] == record["generator_backend"]
    assert record["backend_choice"] == "as configured"
    torch_record = _pipeline(InferenceOptions(backend="torch")).inference_record()
    assert str(torch_record["generator_backend"]).startswith("torch ")


def test_auto_times_every_pairing_and_records_the_times() -> None:
    pipeline = _pipeline(InferenceOptions())
    seconds = pipeline.backends.seconds
    runtimes = ("torch", "openvino")
    pairs = [(parser, generators) for parser in runtimes for generators in runtimes]
    assert set(seconds) == {chain_name(*pair) for pair in pairs}
    fastest = min(pairs, key=lambda pair: seconds[chain_name(*pair)])
    assert (pipeline.backends.parser, pipeline.backends.generators) == fastest
    assert "timed on this host" in str(pipeline.inference_record()["backend_choice"])


def test_every_pipeline_on_a_host_makes_the_same_choice(own_cache: Path) -> None:
    """The choice is kept on disk: a second process (here: empty in-process caches) reads
    it instead of timing again, so two processes cannot pick different backends."""
    first = _pipeline(InferenceOptions()).backends
    assert list(own_cache.rglob("choice-*.json"))
    openvino_backend._choices.clear()
    openvino_backend._memory.clear()
    again = _pipeline(InferenceOptions()).backends
    assert again == first


def test_a_converted_network_is_read_back_from_the_disk_cache(
    own_cache: Path, caplog: pytest.LogCaptureFixture
) -> None:
    parser, _ = _networks()
    example = (torch.rand(1, 3, SIZE, SIZE) * 2 - 1,)
    key = weights_digest(parser, "parser")
    with caplog.at_level(logging.DEBUG, logger="isegan.model.openvino_backend"):
        converted_model(parser, example, key)
    assert "converted" in caplog.text
    assert len(list(own_cache.rglob("*.xml"))) == 1
    openvino_backend._memory.clear()
    caplog.clear()
    with caplog.at_level(logging.DEBUG, logger="isegan.model.openvino_backend"):
        cached = OpenVinoNetwork(converted_model(parser, example, key), "fp32")
    assert "converted" not in caplog.text
    with torch.no_grad():
        expected = parser(example[0])
    torch.testing.assert_close(cached(example[0])[0], expected, atol=1e-4, rtol=1e-4)


def test_different_weights_are_never_confused_in_the_cache() -> None:
    parser_a, _ = _networks(seed=0)
    parser_b, _ = _networks(seed=1)
    assert weights_digest(parser_a) != weights_digest(parser_b)
    assert weights_digest(parser_a) == weights_digest(_networks(seed=0)[0])
    assert weights_digest(parser_a, 256) != weights_digest(parser_a, 512)  # graph facts count


def test_one_network_serves_many_batch_sizes_and_threads() -> None:
    _, generators = _networks()
    example = Example.canvas(SIZE, NUM_FACE_CLASSES)
    networks = convert_networks(None, generators, example, "fp32")  # type: ignore[arg-type]
    sketch = torch.rand(4, 3, SIZE, SIZE) * 2 - 1
    parsing = torch.softmax(torch.randn(4, NUM_FACE_CLASSES, SIZE, SIZE), dim=1)
    with torch.no_grad():
        expected = GeneratorGraph(generators)(sketch, parsing)[0]  # type: ignore[arg-type]
    together = networks.generators(sketch, parsing)[0]
    torch.testing.assert_close(together, expected, atol=1e-4, rtol=1e-4)
    results: dict[int, torch.Tensor] = {}

    def one(index: int) -> None:
        for _ in range(3):
            one_sketch, one_parsing = sketch[index : index + 1], parsing[index : index + 1]
            results[index] = networks.generators(one_sketch, one_parsing)[0]

    threads = [threading.Thread(target=one, args=(index,)) for index in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    for index in range(4):
        torch.testing.assert_close(
            results[index], expected[index : index + 1], atol=1e-4, rtol=1e-4
        )


def test_a_result_outlives_the_next_call_and_the_inputs_are_left_alone() -> None:
    """Inputs are shared with OpenVINO and outputs not copied a second time: a photo
    must still be its own after the same request runs again, and the caller's tensors
    must come back unchanged."""
    _, generators = _networks()
    example = Example.canvas(SIZE, NUM_FACE_CLASSES)
    networks = convert_networks(None, generators, example, "fp32")  # type: ignore[arg-type]
    first_sketch = torch.rand(1, 3, SIZE, SIZE) * 2 - 1
    second_sketch = -first_sketch
    parsing = torch.softmax(torch.randn(1, NUM_FACE_CLASSES, SIZE, SIZE), dim=1)
    kept_sketch, kept_parsing = first_sketch.clone(), parsing.clone()
    first = networks.generators(first_sketch, parsing)
    first_copy = [output.clone() for output in first]
    second = networks.generators(second_sketch, parsing)
    assert not torch.equal(first[0], second[0])
    for output, copy in zip(first, first_copy, strict=True):
        assert torch.equal(output, copy)
    assert torch.equal(first_sketch, kept_sketch) and torch.equal(parsing, kept_parsing)


def test_a_parser_is_charged_for_what_it_costs_the_generators_after_it() -> None:
    """Pairings are timed as chains: a PyTorch parser that is fast alone but slows
    whatever runs next (as its spinning OpenMP threads slowed OpenVINO) loses to
    OpenVINO's parser. Here the cost it leaves behind is a real sleep the next call
    pays; timing each network alone would have kept it."""
    parser, generators = _networks()
    example = Example.canvas(SIZE, NUM_FACE_CLASSES)
    networks = convert_networks(parser, generators, example, "fp32")  # type: ignore[arg-type]
    left_behind: list[float] = []

    def torch_parser() -> None:  # no time of its own; leaves 40 ms for the next call
        left_behind.append(0.04)

    def torch_generators() -> None:
        time.sleep(0.2 + sum(left_behind))
        left_behind.clear()

    class PayingGenerators:
        """OpenVINO's G1+G2, paying what the call before it left behind."""

        key, precision = networks.generators.key, networks.generators.precision

        def __call__(self, *inputs: torch.Tensor) -> list[torch.Tensor]:
            time.sleep(sum(left_behind))
            left_behind.clear()
            return networks.generators(*inputs)

    paying = OpenVinoNetworks(networks.parser, PayingGenerators())  # type: ignore[arg-type]
    choice = choose_backends(paying, example, torch_parser, torch_generators)
    assert (choice.parser, choice.generators) == ("openvino", "openvino")
    ov_parser = networks.parser
    assert ov_parser is not None
    alone = median_seconds({"torch": torch_parser, "openvino": lambda: ov_parser(example.sketch)})
    assert alone["torch"] < alone["openvino"]  # alone, PyTorch's parser looked faster


def test_a_third_party_parser_is_never_run_on_the_timing_example() -> None:
    """A parser OpenVINO does not convert (facer's) stays on PyTorch and is not timed: the
    example is noise, on which facer's parser finds no face and raises."""
    _, generators = _networks()
    example = Example.canvas(SIZE, NUM_FACE_CLASSES)
    networks = convert_networks(None, generators, example, "fp32")  # type: ignore[arg-type]

    def refusing_parser() -> None:
        raise AssertionError("the third-party parser was run on the timing example")

    choice = choose_backends(networks, example, refusing_parser, lambda: time.sleep(0.05))
    assert (choice.parser, choice.generators) == ("torch", "openvino")
    assert set(choice.seconds) == {"G1+G2 torch", "G1+G2 openvino"}


def test_timing_alternates_the_candidates() -> None:
    order: list[str] = []
    median_seconds({"a": lambda: order.append("a"), "b": lambda: order.append("b")}, rounds=3)
    assert order[-6:] == ["a", "b"] * 3


def test_a_kept_choice_is_used_even_when_times_have_changed() -> None:
    _, generators = _networks()
    example = Example.canvas(SIZE, NUM_FACE_CLASSES)
    networks = convert_networks(None, generators, example, "fp32")  # type: ignore[arg-type]
    slow = lambda: time.sleep(0.05)  # noqa: E731
    first = choose_backends(networks, example, slow, slow)
    assert first.generators == "openvino"  # torch took 50 ms here
    openvino_backend._choices.clear()
    again = choose_backends(networks, example, lambda: None, lambda: None)
    assert again == first  # read from the disk, not timed again


def test_openvino_refuses_torch_compile() -> None:
    with pytest.raises(ValueError, match=r"torch\.compile"):
        _pipeline(InferenceOptions(backend="openvino", compile=True))


def test_backend_choice_says_how_it_was_made() -> None:
    assert BackendChoice().describe() == "as configured"
    seconds = {chain_name("torch", "torch"): 0.036, chain_name("openvino", "openvino"): 0.028}
    timed = BackendChoice("openvino", "openvino", seconds)
    assert timed.describe() == (
        "timed on this host, fastest kept: parser torch + G1+G2 torch 36.0 ms,"
        " parser openvino + G1+G2 openvino 28.0 ms"
    )


def test_one_graph_serves_every_batch_size_with_the_same_photo() -> None:
    """One dynamic-batch graph: which requests shared a batch does not move a photo by
    more than a grey level (the service's promise), and no batch size adds a graph."""
    pipeline = _pipeline(InferenceOptions(backend="openvino"))
    assert pipeline.warm_up_batch_sizes(8) == [1]
    sketches = _sketches(4)
    alone = [_photos(pipeline, [sketch])[0] for sketch in sketches]
    for size in (2, 3, 4):
        together = _photos(pipeline, sketches[:size])
        assert np.abs(together - np.stack(alone[:size])).max() <= 1
    networks = pipeline.openvino_networks
    assert networks is not None
    assert len(networks.generators._compiled) == 1


def test_an_unwritable_cache_costs_a_conversion_never_a_failure(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A read-only home (a locked-down container): the networks are converted in memory
    and the pipeline works; the next process converts again."""
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("a file where the cache folder would be")
    monkeypatch.setenv("ISEGAN_CACHE_DIR", str(blocker))
    sketches = _sketches(2)
    pipeline = _pipeline(InferenceOptions(precision="fp32"))
    reference = _photos(_pipeline(InferenceOptions.reference()), sketches)
    assert np.abs(_photos(pipeline, sketches) - reference).max() <= 1
    assert blocker.is_file()
