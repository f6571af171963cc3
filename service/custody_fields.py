"""The custody fields of a request, from form fields or ``X-Isegan-*`` headers."""

from __future__ import annotations

from typing import Annotated

from fastapi import Form, Header

from isegan.provenance.custody import HEADERS, RULES, Custody, CustodyError, parse_custody
from isegan.service.problems import ProblemError

_RULE = {rule.name: rule for rule in RULES}


def _form(name: str, description: str) -> object:
    rule = _RULE[name]
    extra: dict[str, object] = {"maxLength": rule.max_length}
    if name in ("case_id", "evidence_id"):
        extra["pattern"] = rule.pattern
    return Form(description=f"{description} (or the {HEADERS[name]} header)",
                json_schema_extra=extra)  # fmt: skip


def _header(name: str) -> object:
    return Header(alias=HEADERS[name], include_in_schema=False)


def custody_fields(
    case_id: Annotated[str | None, _form("case_id", "Case identifier")] = None,
    evidence_id: Annotated[str | None, _form("evidence_id", "Evidence item identifier")] = None,
    examiner: Annotated[str | None, _form("examiner", "Examiner's name")] = None,
    note: Annotated[str | None, _form("note", "One line of free text")] = None,
    case_id_header: Annotated[str | None, _header("case_id")] = None,
    evidence_id_header: Annotated[str | None, _header("evidence_id")] = None,
    examiner_header: Annotated[str | None, _header("examiner")] = None,
    note_header: Annotated[str | None, _header("note")] = None,
) -> Custody:
    """Check the fields; a bad one is a 422 ``invalid-custody`` that names it."""
    given = {
        "case_id": (case_id, case_id_header),
        "evidence_id": (evidence_id, evidence_id_header),
        "examiner": (examiner, examiner_header),
        "note": (note, note_header),
    }
    values: dict[str, str | None] = {}
    for name, (form, header) in given.items():
        if form is not None and header is not None and form.strip() != header.strip():
            _refuse(name, f"{name} was given as a form field and as {HEADERS[name]}, differently")
        values[name] = form if form is not None else header
    try:
        return parse_custody(values)
    except CustodyError as error:
        _refuse(error.field, str(error))
        raise  # unreachable: _refuse raises


def _refuse(field: str, message: str) -> None:
    raise ProblemError(
        422, "invalid-custody", "Invalid custody field", message,
        errors=[{"loc": ["body", field], "msg": message, "type": "invalid-custody"}],
    )  # fmt: skip
