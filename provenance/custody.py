"""Chain-of-custody fields: which case, item of evidence and examiner an image belongs to.

They come with a request (form fields or ``X-Isegan-*`` headers) or as CLI flags, and go
into the provenance record, the audit record and the C2PA assertion of every output.
Each is optional and bounded in length and character set, because it ends up in signed
manifests, log lines and HTTP headers: identifiers are short ASCII tokens, the examiner
a name, the note one line of printable text.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass

from pydantic import BaseModel, ConfigDict, Field

_IDENTIFIER = r"^[A-Za-z0-9][A-Za-z0-9._:/#-]*$"


@dataclass(frozen=True)
class FieldRule:
    name: str
    max_length: int
    pattern: str
    says: str  # what the error message tells a user the field may hold


RULES: tuple[FieldRule, ...] = (
    FieldRule("case_id", 64, _IDENTIFIER,
              "letters, digits and . _ : / # - (starting with a letter or digit)"),
    FieldRule("evidence_id", 64, _IDENTIFIER,
              "letters, digits and . _ : / # - (starting with a letter or digit)"),
    FieldRule("examiner", 128, r"^[^\W_][\w .,'@()-]*$",
              "letters, digits, spaces and . , ' @ ( ) - _"),
    FieldRule("note", 500, r"^[^\x00-\x1f\x7f]+$", "one line of printable text"),
)  # fmt: skip
FIELD_NAMES = tuple(rule.name for rule in RULES)
#: The request headers that may carry them (a form field wins only if they agree).
HEADERS = {rule.name: "X-Isegan-" + rule.name.replace("_", "-").title() for rule in RULES}


class CustodyError(ValueError):
    """A custody field is too long or holds characters it may not."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field


class Custody(BaseModel):
    """The custody fields given with one request; absent ones are None."""

    model_config = ConfigDict(frozen=True)

    case_id: str | None = Field(None, max_length=64, description="The case the image is for.")
    evidence_id: str | None = Field(None, max_length=64, description="Its evidence item.")
    examiner: str | None = Field(None, max_length=128, description="Who asked for it.")
    note: str | None = Field(None, max_length=500, description="One line of free text.")

    def given(self) -> dict[str, str]:
        """Only the fields that were given, for records and manifests."""
        return {k: v for k, v in self.model_dump().items() if v is not None}


def check_field(rule: FieldRule, value: str) -> str:
    value = value.strip()
    if not value:
        raise CustodyError(rule.name, f"{rule.name} is empty")
    if len(value) > rule.max_length:
        raise CustodyError(
            rule.name, f"{rule.name} is {len(value)} characters long; at most {rule.max_length}"
        )
    if not re.fullmatch(rule.pattern, value):
        raise CustodyError(rule.name, f"{rule.name} may hold only {rule.says}")
    return value


def parse_custody(values: Mapping[str, str | None]) -> Custody:
    """Check each given field; the first bad one raises :class:`CustodyError` naming it."""
    checked = {}
    for rule in RULES:
        value = values.get(rule.name)
        if value is not None:
            checked[rule.name] = check_field(rule, value)
    return Custody(**checked)
