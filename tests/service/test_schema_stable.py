"""The published OpenAPI schema stays what clients were generated from.

``openapi-snapshot.json`` is the schema of the service as built before the routes moved to
``service/routes/`` (issue #19), with and without API keys. A change to it must be
deliberate: regenerate the snapshot with ``ISEGAN_UPDATE_SNAPSHOT=1 pytest`` on this file
and say why in the commit. The package version (``info.version``, which carries the git
commit) is left out: it changes with every commit by design.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from isegan.service.app import create_app
from isegan.service.settings import ServiceSettings

SNAPSHOT = Path(__file__).with_name("openapi-snapshot.json")
KEY_DIGEST = "0" * 64


def published_schemas() -> dict[str, Any]:
    schemas = {
        "plain": create_app(ServiceSettings()).openapi(),
        "api_keys": create_app(ServiceSettings(api_key_sha256=[KEY_DIGEST])).openapi(),
    }
    for schema in schemas.values():
        schema["info"].pop("version")
    # Through JSON, as clients see it: tuples become lists.
    return json.loads(json.dumps(schemas))


def test_the_openapi_schema_is_unchanged() -> None:
    schemas = published_schemas()
    if os.environ.get("ISEGAN_UPDATE_SNAPSHOT") == "1":
        SNAPSHOT.write_text(json.dumps(schemas, indent=1) + "\n")
    expected = json.loads(SNAPSHOT.read_text())
    for name in expected:
        assert json.dumps(schemas[name], indent=1) == json.dumps(expected[name], indent=1), name
