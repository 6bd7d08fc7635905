"""The enterprise risk grade (``ledger.risk``), with every reason and its points."""

from __future__ import annotations

from typing import Literal

from fastapi import APIRouter, Depends, Request
from pydantic import BaseModel, Field

from api.auth import Principal, require
from api.console.grading import grade_orgs
from api.console.i18n import reason_text
from api.console.views import grade_scale
from api.console.web import console_of
from api.problems import responses
from api.routes._common import service_of
from api.routes._params import RecordId

router = APIRouter(prefix="/v1", tags=["registries"])
READER = Depends(require("admin", "regulator", "inspector", "enterprise"))
"""Who reads findings (the grade counts them); an enterprise its own organisation only."""


class ReasonOut(BaseModel):
    code: str = Field(description="A stable name of the contribution (docs/console.md).")
    points: int = Field(description="Its points (a cap is a negative reason).")
    facts: dict[str, str | int] = Field(description="What it rests on.")
    text: dict[Literal["zh", "en"], str] = Field(description="The reason as a sentence.")


class RiskGradeOut(BaseModel):
    org: str
    grade: str = Field(description="A (least risk) to D.")
    points: int = Field(description="The sum of the reasons' points.")
    weights: str = Field(description="The version of the weights file it was graded with.")
    scale: str = Field(description="The grade ladder of those weights.")
    reasons: list[ReasonOut]


@router.get(
    "/orgs/{record_id}/risk-grade",
    response_model=RiskGradeOut,
    responses=responses(401, 403, 404),
    summary="An organisation's risk grade, A to D, with every reason and its points.",
    description="Computed now from its open findings by severity, its licence state "
    "(lapsed, expiring, regulated categories held without a licence or permit), the largest "
    "Σq/Q (GB 18218) among its sites, the catalog categories it holds and the inspections "
    "recorded at its sites, with the versioned weights in `catalogs/risk-grade/` "
    '(docs/console.md, "Risk grade"). Within the caller\'s scope: an organisation outside '
    "it is not found.",
)
def risk_grade(
    request: Request, record_id: RecordId, principal: Principal = READER
) -> RiskGradeOut:
    service = service_of(request)
    service.registry.visible_record(principal, "org", record_id)
    insight = console_of(request).insight
    graded = grade_orgs(service, insight, principal, record_id).grades[record_id]
    return RiskGradeOut(
        org=record_id,
        grade=graded.grade,
        points=graded.points,
        weights=graded.weights,
        scale=grade_scale(insight.weights),
        reasons=[
            ReasonOut(
                code=r.code, points=r.points, facts=dict(r.facts),
                text={"zh": reason_text("zh", r), "en": reason_text("en", r)},
            )
            for r in graded.reasons
        ],
    )  # fmt: skip
