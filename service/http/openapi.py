"""What the published OpenAPI schema says beyond the routes themselves: the API's
description, problem responses, upload limits and API-key schemes."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from fastapi import FastAPI

from isegan.service.http.middleware import PUBLIC_PREFIXES
from isegan.service.http.problems import Problem

API_DESCRIPTION = """
Turns a face sketch into a photo with ISEGAN and returns the intermediate parsing map.

Every image carries an XMP synthetic-media label (IPTC DigitalSourceType
`trainedAlgorithmicMedia`) and comes with a provenance record; every response is also
written to a hash-chained audit log. **A synthesised photo is not evidence of anyone's
appearance.** Errors are RFC 9457 `application/problem+json` with a `request_id`.
"""


def problem_responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """The documented ``application/problem+json`` answers of an operation."""
    return {
        status: {"model": Problem, "content": {"application/problem+json": {}}}
        for status in statuses
    }


def edit_openapi(app: FastAPI, edit: Callable[[dict[str, Any]], None]) -> None:
    """Run ``edit`` on the generated OpenAPI schema once, when it is first built; edits
    registered one after another all apply."""
    build_schema = app.openapi

    def edited_openapi() -> dict[str, Any]:
        if app.openapi_schema is not None:
            return app.openapi_schema
        schema = build_schema()
        edit(schema)
        app.openapi_schema = schema
        return schema

    app.openapi = edited_openapi  # type: ignore[method-assign]


def state_upload_limits(app: FastAPI, max_bytes: int) -> None:
    """Every uploaded file in the schema gets this service's byte limit as maxLength."""

    def add_limits(schema: dict[str, Any]) -> None:
        for component in schema.get("components", {}).get("schemas", {}).values():
            for field in component.get("properties", {}).values():
                for option in [field, *field.get("anyOf", [])]:
                    if option.get("format") == "binary" or "contentMediaType" in option:
                        option["maxLength"] = max_bytes

    edit_openapi(app, add_limits)


def declare_api_keys(app: FastAPI) -> None:
    """Name the key schemes in the OpenAPI schema, so Swagger UI offers "Authorize" and
    generated clients send the key; the health probes stay open."""

    def add_keys(schema: dict[str, Any]) -> None:
        schema.setdefault("components", {})["securitySchemes"] = {
            "bearer": {"type": "http", "scheme": "bearer"},
            "apiKeyHeader": {"type": "apiKey", "in": "header", "name": "X-API-Key"},
        }
        schema["security"] = [{"bearer": []}, {"apiKeyHeader": []}]
        for path, operations in schema["paths"].items():
            if path.startswith(PUBLIC_PREFIXES):
                for operation in operations.values():
                    operation["security"] = []

    edit_openapi(app, add_keys)
