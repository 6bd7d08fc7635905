"""The risk grade's weights, as versioned data (``catalogs/risk-grade/<version>.json``). Pure.

Read strictly, like the rules configuration: an unknown key, a float, a category the catalog
does not define, an unsorted ladder or an incomplete severity table refuses the file, so a
typo cannot silently drop a contribution from every enterprise's grade.
"""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Annotated, Final

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    ValidationError,
    model_validator,
)

from ledger.catalog.model import CATEGORY_TOKENS
from ledger.errors import InvalidInputError
from ledger.rules.findings import SEVERITIES, Severity

Points = Annotated[int, Field(ge=0, le=1000)]
GradeName = Annotated[str, StringConstraints(pattern=r"^[A-Z]$")]
MAX_DAYS: Final = 3660


class _Strict(BaseModel):
    model_config = ConfigDict(strict=True, extra="forbid", frozen=True)


class RatioStep(_Strict):
    at_least: Annotated[Decimal, Field(gt=0)]
    """Σq/Q of the enterprise's largest site at or above this (a decimal string)."""
    points: Points


class LicenceWeights(_Strict):
    organisation_inactive: Points
    """The organisation's registry status is not ``active`` (suspended, closed)."""
    held_unlicensed: Points
    """Per chemical and regulated category held now with neither licence nor permit."""
    lapsed: Points
    """Per licence expired, suspended or revoked and not replaced by one of its kind."""
    expiring: Points
    """Per licence ending within ``expiring_days`` with no successor of its kind."""
    expiring_days: Annotated[int, Field(ge=1, le=MAX_DAYS)]


class CategoryWeights(_Strict):
    points: dict[str, Points]
    """Catalog category → points, once per category held; a category not named weighs 0."""
    cap: Points
    """The most the categories held add together: what is held is not what is done with it."""

    @model_validator(mode="after")
    def _known(self) -> CategoryWeights:
        unknown = sorted(set(self.points) - CATEGORY_TOKENS)
        if unknown:
            raise ValueError(f"not catalog categories: {unknown}")
        return self


class InspectionWeights(_Strict):
    window_days: Annotated[int, Field(ge=1, le=MAX_DAYS)]
    fail: Points
    observation: Points
    passed: Points = Field(alias="pass")


class GradeStep(_Strict):
    below: Annotated[int, Field(ge=1)]
    grade: GradeName


class RiskWeights(_Strict):
    version: Annotated[str, StringConstraints(pattern=r"^[a-z0-9][a-z0-9_.-]{0,39}$")]
    findings: dict[Severity, Points]
    """Points per open finding, by severity; every severity is named."""
    hazard_ratio: Annotated[list[RatioStep], Field(min_length=1)]
    """Highest step first; the first step the largest Σq/Q reaches counts."""
    licence: LicenceWeights
    categories: CategoryWeights
    inspection: InspectionWeights
    grades: Annotated[list[GradeStep], Field(min_length=1)]
    """Ascending: the first grade whose ``below`` the total is under; else ``last_grade``."""
    last_grade: GradeName

    @model_validator(mode="after")
    def _ordered(self) -> RiskWeights:
        if set(self.findings) != set(SEVERITIES):
            raise ValueError(f"findings must weigh every severity: {list(SEVERITIES)}")
        floors = [step.at_least for step in self.hazard_ratio]
        if floors != sorted(floors, reverse=True) or len(set(floors)) != len(floors):
            raise ValueError("hazard_ratio steps must descend strictly by at_least")
        limits = [step.below for step in self.grades]
        if limits != sorted(limits) or len(set(limits)) != len(limits):
            raise ValueError("grades must ascend strictly by below")
        names = [step.grade for step in self.grades] + [self.last_grade]
        if len(set(names)) != len(names):
            raise ValueError("every grade is named once")
        return self


def parse_weights(text: str, *, source: str = "risk weights") -> RiskWeights:
    """Parse a weights file; decimals are JSON strings, points are integers.

    Raises:
        InvalidInputError: the text is not a valid weights file (the field is named).
    """
    try:
        json.loads(text, parse_float=_refuse_float)
        return RiskWeights.model_validate_json(text)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(part) for part in first["loc"]) or "(file)"
        raise InvalidInputError(f"{source}: {where}: {first['msg']}", field=where) from None
    except ValueError as exc:
        raise InvalidInputError(f"{source}: {exc}") from None


def _refuse_float(text: str) -> Decimal:
    raise ValueError(f"{text} is a float: write decimals as strings")
