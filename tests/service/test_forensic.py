"""Forensic use over real HTTP: custody fields, signing by default, the watermark."""

from __future__ import annotations

import base64
import json
from pathlib import Path

import httpx

from isegan.provenance.credentials import check

CUSTODY = {"case_id": "2026-CR-0417", "evidence_id": "item-3", "examiner": "Ana Núñez"}


def _post(url: str, sketch: bytes, **kwargs) -> httpx.Response:
    return httpx.post(
        url + "/synthesize", files={"sketch": ("s.png", sketch, "image/png")}, timeout=60,
        **kwargs,
    )  # fmt: skip


def test_custody_fields_reach_the_record_the_audit_log_and_the_manifest(
    service_url: str, sketch_bytes: bytes, audit_log: Path, installation_folder: Path
) -> None:
    response = _post(
        service_url, sketch_bytes, data={**CUSTODY}, headers={"X-Isegan-Note": "line-up 2"}
    )
    assert response.status_code == 200, response.text
    body = response.json()
    expected = {**CUSTODY, "note": "line-up 2"}
    assert body["provenance"]["custody"] == expected
    audited = json.loads(audit_log.read_text().splitlines()[-1])
    assert audited["custody"] == expected and audited["request_id"] == body["request_id"]

    # Signed by default, with the installation's own key: untrusted without its root,
    # trusted with it; the assertion holds the custody fields and the watermark record.
    photo = base64.b64decode(body["images"]["photo"]["data"])
    root = (installation_folder / "credentials" / "isegan-root.pem").read_text()
    assert check(photo, "image/png").verdict.value == "untrusted"
    checked = check(photo, "image/png", root)
    assert checked.verdict.value == "trusted"
    assert {k: checked.provenance[k] for k in expected} == expected
    assert checked.provenance["watermark"]["record"] == body["provenance"]["watermark"]["record"]
    info = httpx.get(service_url + "/v1/model").json()["content_credentials"]
    assert info["key"] == "installation" and info["watermark"] is True
    assert info["installation"] == body["provenance"]["watermark"]["installation"]


def test_a_bad_custody_field_is_a_422_that_names_it(service_url: str, sketch_bytes: bytes) -> None:
    for kwargs, field in (
        ({"data": {"case_id": "no spaces allowed"}}, "case_id"),
        ({"headers": {"X-Isegan-Examiner": "x" * 129}}, "examiner"),
        ({"data": {"evidence_id": "a"}, "headers": {"X-Isegan-Evidence-Id": "b"}}, "evidence_id"),
    ):
        response = _post(service_url, sketch_bytes, **kwargs)
        assert response.status_code == 422, response.text
        problem = response.json()
        assert problem["type"].endswith("/invalid-custody")
        assert problem["errors"][0]["loc"] == ["body", field]
        assert field in problem["detail"]
