"""Schemathesis fuzzes every operation, with valid and invalid data, of the live OpenAPI schema: no input may cause a
500, and every answer must match the documented statuses, media types, headers and
bodies."""

from __future__ import annotations

import itertools

import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis import GenerationMode
from schemathesis.checks import positive_data_acceptance

from tests.service.conftest import service_settings
from tests.service.server import running_server


def test_every_operation_conforms_to_the_schema(generator_checkpoint, parser_checkpoint) -> None:
    with running_server(service_settings(generator_checkpoint, parser_checkpoint, None)) as url:
        schema = schemathesis.openapi.from_url(url + "/openapi.json")
        operations = [result.ok() for result in schema.get_all_operations()]
        assert {op.path for op in operations} >= {"/synthesize", "/v1/model", "/health/ready"}
        for operation, mode in itertools.product(operations, GenerationMode):
            if mode is GenerationMode.NEGATIVE and operation.method.upper() == "GET":
                continue  # nothing to get wrong: these take no input

            @given(case=operation.as_strategy(generation_mode=mode))
            @settings(
                max_examples=30,
                deadline=None,
                database=None,
                derandomize=True,  # the same cases on every run
                suppress_health_check=list(HealthCheck),
            )
            def conforms(case: schemathesis.Case) -> None:
                # A schema cannot say "a face sketch", so schema-valid bytes may still be
                # refused (415/422); every other check of schemathesis applies.
                case.call_and_validate(excluded_checks=[positive_data_acceptance])

            conforms()


def test_the_schema_is_as_strict_as_the_service() -> None:
    """Enums, the outputs grammar and the upload limit are in the published schema, and
    the outputs pattern accepts exactly what the route accepts (issue: fuzzers wasted
    most cases on values the schema allowed and the service refused)."""
    import re

    from isegan.service.app import create_app
    from isegan.service.dependencies import parse_outputs
    from isegan.service.http.problems import ProblemError
    from isegan.service.settings import ServiceSettings

    schema = create_app(ServiceSettings(max_upload_bytes=123_456)).openapi()
    synthesize = schema["paths"]["/synthesize"]["post"]
    query = {p["name"]: p["schema"] for p in synthesize["parameters"]}
    body_ref = synthesize["requestBody"]["content"]["multipart/form-data"]["schema"]["$ref"]
    form = schema["components"]["schemas"][body_ref.rsplit("/", 1)[-1]]["properties"]
    for options in (query, form):
        assert options["align"]["anyOf"][0]["enum"] == ["auto", "true", "false"]
        assert options["format"]["anyOf"][0]["enum"] == ["png", "jpeg", "webp"]
        assert options["outputs"]["maxLength"] == 200
    assert form["sketch"]["maxLength"] == 123_456
    assert form["parsing"]["anyOf"][0]["maxLength"] == 123_456
    verify_ref = schema["paths"]["/verify"]["post"]["requestBody"]["content"][
        "multipart/form-data"
    ]["schema"]["$ref"]
    verify = schema["components"]["schemas"][verify_ref.rsplit("/", 1)[-1]]["properties"]
    assert verify["image"]["maxLength"] == 123_456

    pattern = query["outputs"]["pattern"]
    assert form["outputs"]["pattern"] == pattern
    for text in ["photo", "photo,parsing", " photo , sketch_parsing\t", "parsing,parsing",
                 "", "photo,", ",photo", "photo,,parsing", "selfie", "photo;parsing",
                 "photo\n", "PHOTO", "stage1_photo,sketch_parsing,photo,parsing"]:  # fmt: skip
        try:
            parse_outputs(text)
            accepted = True
        except ProblemError:
            accepted = False
        assert accepted == bool(re.fullmatch(pattern, text)), text
