"""What a route receives besides its uploads, each checked once, here: the parts of the
running service it uses (pipeline, worker, stamper, marker, audit log, metrics,
settings), the synthesis options and the custody fields.

A route names the parts it needs as typed parameters (``pipeline: Pipeline``); none of
them reaches into the service's state object, which is the lifecycle's alone. Every
dependency is ``async``: FastAPI runs a plain ``def`` dependency in the thread pool, a
hop off the event loop per dependency per request (``benchmarks/request_path.py``)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Annotated, TypeVar

from fastapi import Depends, Form, Header, Query, Request

from isegan.model.alignment.align import AlignMode
from isegan.model.pipeline import FacePipeline
from isegan.provenance.audit import AuditLog
from isegan.provenance.custody import HEADERS, RULES, Custody, CustodyError, parse_custody
from isegan.provenance.media_labels import OutputFormat
from isegan.provenance.outputs import DEFAULT_OUTPUTS, Output
from isegan.provenance.render import PhotoMarker
from isegan.provenance.stamp import Stamper
from isegan.service.http.problems import ProblemError, ProblemType
from isegan.service.prometheus import ServiceMetrics
from isegan.service.runtime.state import ServiceState
from isegan.service.runtime.worker import InferenceWorker
from isegan.service.schemas import OUTPUT_NAMES, OUTPUTS_MAX_LENGTH, OUTPUTS_PATTERN
from isegan.service.settings import ServiceSettings

#: The outputs grammar as the schema states it (align and format are enums), so clients
#: and fuzzers send what can succeed.
OUTPUTS_SCHEMA = {"pattern": OUTPUTS_PATTERN, "maxLength": OUTPUTS_MAX_LENGTH}
_T = TypeVar("_T")


async def get_state(request: Request) -> ServiceState:
    state: ServiceState = request.app.state.isegan
    return state


State = Annotated[ServiceState, Depends(get_state)]


async def ready_pipeline(state: State) -> FacePipeline:
    """The loaded pipeline; 503 ``not-ready`` while loading or stopping."""
    if not state.ready or state.pipeline is None:
        raise ProblemError(
            ProblemType.NOT_READY,
            "the model is not loaded yet (or is stopping)",
            retry_after_s=state.settings.retry_after_s,
        )
    return state.pipeline


Pipeline = Annotated[FacePipeline, Depends(ready_pipeline)]


async def _worker(state: State, _: Pipeline) -> InferenceWorker:
    assert state.worker is not None  # a ready service has one
    return state.worker


async def _stamper(state: State, _: Pipeline) -> Stamper:
    assert state.stamper is not None  # made with the pipeline
    return state.stamper


async def _marker(state: State) -> PhotoMarker | None:
    return state.marker


async def _audit(state: State) -> AuditLog | None:
    return state.audit


async def _metrics(state: State) -> ServiceMetrics:
    return state.metrics


async def _settings(state: State) -> ServiceSettings:
    return state.settings


Worker = Annotated[InferenceWorker, Depends(_worker)]
StamperOf = Annotated[Stamper, Depends(_stamper)]
Marker = Annotated[PhotoMarker | None, Depends(_marker)]
Audit = Annotated[AuditLog | None, Depends(_audit)]
Metrics = Annotated[ServiceMetrics, Depends(_metrics)]
Settings = Annotated[ServiceSettings, Depends(_settings)]


@dataclass(frozen=True)
class SynthesisOptions:
    """What to return and how, from query parameters or form fields."""

    outputs: tuple[Output, ...] = DEFAULT_OUTPUTS
    format: OutputFormat = "png"
    align: AlignMode = "auto"


async def synthesis_options(
    outputs_form: Annotated[
        str | None,
        Form(
            alias="outputs",
            description="Comma-separated: photo, parsing, stage1_photo, sketch_parsing.",
            examples=["photo,parsing"],
            json_schema_extra=OUTPUTS_SCHEMA,
        ),
    ] = None,
    format_form: Annotated[OutputFormat | None, Form(alias="format")] = None,
    align_form: Annotated[
        AlignMode | None,
        Form(
            alias="align",
            description="auto (default): align the face to the CUFS frame unless the "
            "sketch is already there or comes with a parsing map; true: always; false: "
            "never.",
        ),
    ] = None,
    outputs_query: Annotated[
        str | None, Query(alias="outputs", json_schema_extra=OUTPUTS_SCHEMA)
    ] = None,
    format_query: Annotated[OutputFormat | None, Query(alias="format")] = None,
    align_query: Annotated[AlignMode | None, Query(alias="align")] = None,
) -> SynthesisOptions:
    """Each option once, as a query parameter or a form field; the same option given
    both ways with different values is a 422 ``invalid-options``."""
    outputs = given_once("outputs", outputs_form, outputs_query)
    return SynthesisOptions(
        outputs=parse_outputs(outputs),
        format=given_once("format", format_form, format_query) or "png",
        align=given_once("align", align_form, align_query) or "auto",
    )


def given_once(name: str, form: _T | None, query: _T | None) -> _T | None:
    if form is not None and query is not None and form != query:
        raise ProblemError(
            ProblemType.INVALID_OPTIONS,
            f"'{name}' was given both as a query parameter ({query!r}) and a form field "
            f"({form!r}); give it once",
        )
    return form if form is not None else query


def parse_outputs(text: str | None) -> tuple[Output, ...]:
    """The outputs named in ``text`` (see OUTPUTS_PATTERN), once each, in order."""
    if text is None:
        return DEFAULT_OUTPUTS
    if len(text) > OUTPUTS_MAX_LENGTH or not re.fullmatch(OUTPUTS_PATTERN, text):
        raise ProblemError(
            ProblemType.INVALID_OPTIONS,
            f"outputs must be a comma-separated subset of {', '.join(OUTPUT_NAMES)}; "
            f"got {text[:OUTPUTS_MAX_LENGTH]!r}",
        )
    names = [Output(part.strip(" \t")) for part in text.split(",")]
    return tuple(dict.fromkeys(names).keys())


_RULE = {rule.name: rule for rule in RULES}


def _custody_form(name: str, description: str) -> object:
    rule = _RULE[name]
    extra: dict[str, object] = {"maxLength": rule.max_length}
    if name in ("case_id", "evidence_id"):
        extra["pattern"] = rule.pattern
    return Form(description=f"{description} (or the {HEADERS[name]} header)",
                json_schema_extra=extra)  # fmt: skip


def _custody_header(name: str) -> object:
    return Header(alias=HEADERS[name], include_in_schema=False)


async def custody_fields(
    case_id: Annotated[str | None, _custody_form("case_id", "Case identifier")] = None,
    evidence_id: Annotated[
        str | None, _custody_form("evidence_id", "Evidence item identifier")
    ] = None,
    examiner: Annotated[str | None, _custody_form("examiner", "Examiner's name")] = None,
    note: Annotated[str | None, _custody_form("note", "One line of free text")] = None,
    case_id_header: Annotated[str | None, _custody_header("case_id")] = None,
    evidence_id_header: Annotated[str | None, _custody_header("evidence_id")] = None,
    examiner_header: Annotated[str | None, _custody_header("examiner")] = None,
    note_header: Annotated[str | None, _custody_header("note")] = None,
) -> Custody:
    """The chain-of-custody fields, from form fields or ``X-Isegan-*`` headers; a bad one
    (or a field given both ways, differently) is a 422 ``invalid-custody`` naming it."""
    given = {
        "case_id": (case_id, case_id_header),
        "evidence_id": (evidence_id, evidence_id_header),
        "examiner": (examiner, examiner_header),
        "note": (note, note_header),
    }
    values: dict[str, str | None] = {}
    for name, (form, header) in given.items():
        if form is not None and header is not None and form.strip() != header.strip():
            raise _invalid_custody(
                name, f"{name} was given as a form field and as {HEADERS[name]}, differently"
            )
        values[name] = form if form is not None else header
    try:
        return parse_custody(values)
    except CustodyError as error:
        raise _invalid_custody(error.field, str(error)) from None


def _invalid_custody(field: str, message: str) -> ProblemError:
    return ProblemError(
        ProblemType.INVALID_CUSTODY,
        message,
        errors=[{"loc": ["body", field], "msg": message, "type": "invalid-custody"}],
    )


Custodied = Annotated[Custody, Depends(custody_fields)]
Options = Annotated[SynthesisOptions, Depends(synthesis_options)]
