"""What is loaded: the generator's and parser's ids, architecture and training record."""

from __future__ import annotations

from fastapi import APIRouter

from isegan.service.dependencies import Pipeline, State
from isegan.service.schemas import LABELS, ContentCredentialsInfo, ModelInfo, colour_info

router = APIRouter(tags=["model"])


@router.get("/v1/model", response_model=ModelInfo)
async def model_info(pipeline: Pipeline, state: State) -> ModelInfo:
    """The loaded generator and parser: ids, architecture, training record, metrics."""
    meta = pipeline.metadata
    assert meta is not None
    signer = state.signer
    return ModelInfo(
        model_id=pipeline.model_id,
        parser_id=pipeline.parser_id,
        code_version=state.code_version,
        device=str(pipeline.device),
        two_stage=pipeline.two_stage,
        architecture=meta.architecture.model_dump(),
        training=meta.training,
        data=meta.data.model_dump() if meta.data else None,
        metrics=meta.metrics,
        notes=meta.notes,
        created_at=meta.created_at,
        labels=LABELS,
        content_credentials=ContentCredentialsInfo(
            signing=signer is not None,
            signer=signer.subject if signer is not None else None,
            key=state.signing.key if state.signing is not None else "off",
            installation=state.installation.id if state.installation else None,
            watermark=state.watermarker is not None,
        ),
        colour=colour_info(state.settings.max_variations),
    )
