"""Custody fields: what is accepted, and a refusal that names the field."""

from __future__ import annotations

import pytest

from isegan.provenance.custody import CustodyError, parse_custody


def test_given_fields_are_kept_trimmed_and_absent_ones_left_out() -> None:
    custody = parse_custody({"case_id": " 2026/CR-0417 ", "examiner": "Ana Núñez", "note": None})
    assert custody.given() == {"case_id": "2026/CR-0417", "examiner": "Ana Núñez"}


@pytest.mark.parametrize(
    ("field", "value", "says"),
    [
        ("case_id", "x" * 65, "at most 64"),
        ("case_id", "case 1", "may hold only"),
        ("evidence_id", "-leading", "may hold only"),
        ("examiner", "<script>", "may hold only"),
        ("note", "two\nlines", "printable"),
        ("note", "   ", "empty"),
    ],
)
def test_bad_values_are_refused_naming_the_field(field: str, value: str, says: str) -> None:
    with pytest.raises(CustodyError, match=says) as caught:
        parse_custody({field: value})
    assert caught.value.field == field
