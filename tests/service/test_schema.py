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
