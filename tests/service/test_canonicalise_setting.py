"""ISEGAN_CANONICALISE reaches the pipeline the service loads."""

from __future__ import annotations

from isegan.model.canonicalise import CANONICALISE_BY_DEFAULT
from isegan.service.runtime.state import load_pipeline
from tests.service.conftest import service_settings


def test_the_setting_switches_the_loaded_pipeline(
    generator_checkpoint, parser_checkpoint, monkeypatch
) -> None:
    default = service_settings(generator_checkpoint, parser_checkpoint, None)
    assert (default.canonicalise == "on") is CANONICALISE_BY_DEFAULT
    for value, expected in (("on", True), ("off", False)):
        monkeypatch.setenv("ISEGAN_CANONICALISE", value)
        settings = service_settings(generator_checkpoint, parser_checkpoint, None)
        pipeline = load_pipeline(settings)
        assert (pipeline.canonicalise is not None) is expected
        assert pipeline.inference_record()["canonicalise"] is expected
