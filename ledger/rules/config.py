"""The rules configuration: every threshold, list and matrix the rules use, as data. Pure.

The file is JSON (``catalogs/rules/<version>.json``), read strictly: an unknown key, a
float where a decimal string belongs, or a rule id the engine does not know is an error,
so a typo cannot silently switch a rule off.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from decimal import Decimal
from typing import Annotated, Final

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    ValidationError,
    field_validator,
)

from ledger.errors import InvalidInputError
from ledger.rules.findings import Severity
from ledger.rules.segregation import SegregationMatrix

RULES: Final = (
    "lifecycle.use_before_receipt",
    "lifecycle.after_disposal",
    "lifecycle.second_commission",
    "lifecycle.quantity_growth",
    "custody.transit_overdue",
    "custody.wrong_receiver",
    "custody.double_holder",
    "clone.impossible_travel",
    "clone.after_destruction",
    "clone.unissued_code",
    "mass.transform_imbalance",
    "mass.stock_shortfall",
    "mass.org_balance",
    "mass.receive_shortfall",
    "licence.missing",
    "permit.toxic_sale_unpermitted",
    "permit.toxic_filing_missing",
    "permit.individual_buyer",
    "permit.precursor_purchase",
    "transport.documents_missing",
    "transport.vehicle_not_licensed",
    "transport.gps_gap",
    "transport.arrival_far",
    "storage.major_hazard",
    "storage.incompatible",
    "storage.two_person",
    "storage.cylinder_overdue",
    "city.prohibited",
    "city.restricted_bulk",
    "dormancy.idle",
    "device.late_sync",
    "custody.unshipped_move",
    "transport.route_deviation",
    "transport.toxic_pass_missing",
    "transport.track_lost",
    "quantity.unit_unknown",
    "waste.disposer_unlicensed",
    "waste.manifest_missing",
    "storage.cylinder_failed_fill",
    "keys.backdated_revocation",
)
"""Every rule the engine implements; the config must give each a severity."""

Token = Annotated[str, StringConstraints(pattern=r"^[a-z0-9_.:-]{1,40}$")]
PositiveDecimal = Annotated[Decimal, Field(gt=0)]
Fraction = Annotated[Decimal, Field(ge=0, le=1)]


class _Strict(BaseModel):
    model_config = ConfigDict(strict=True, extra="forbid", frozen=True)


class TransportRules(_Strict):
    speed_kmh: PositiveDecimal
    slack_hours: PositiveDecimal
    road_factor: PositiveDecimal
    default_transit_hours: PositiveDecimal
    gps_gap_minutes: PositiveDecimal
    arrival_radius_km: PositiveDecimal
    required_documents: list[Token]


class CloneRules(_Strict):
    max_speed_kmh: PositiveDecimal
    min_distance_km: PositiveDecimal


class MassRules(_Strict):
    transform_tolerance: Fraction
    count_tolerance: Fraction
    receive_tolerance: Fraction
    """A receive short of what was shipped by more than this fraction (not strict)."""
    growth_tolerance: Fraction
    strict_categories: list[Token]
    strict_severity: Severity
    """A shortfall of a strict category, whatever its size (R-TOX-6: report at once)."""
    org_window_days: Annotated[int, Field(ge=1, le=366)]
    org_tolerance: Fraction
    org_min_kg: PositiveDecimal


class LicenceRequirement(_Strict):
    activities: Annotated[list[Token], Field(min_length=1)]
    """Any one of these licensed activities will do (a filler "fills" what it commissions)."""
    org_types: list[Token] | None = None
    """Only these organisation types need the licence; ``None`` means every type."""
    party: Annotated[str, StringConstraints(pattern=r"^(actor|carrier)$")] = "actor"


class HolderRequirement(_Strict):
    """What lets an organisation hold (receive, use) goods of one regulated category."""

    activities: list[Token]
    """A licence for any one of these activities covering the chemical will do."""
    use_activities: list[Token]
    """For a ``use``, only these: a licence to store or to trade lets one hold the goods,
    not consume them (a purchase permit or filing is for lawful use, so it still does)."""
    permits: list[Token]
    """Or a permit record of one of these kinds covering it (a purchase permit, a filing)."""


class LicenceRules(_Strict):
    required: dict[Token, LicenceRequirement]
    """Event type → the licence activity it needs."""
    exempt_org_types: list[Token]
    buyer_licence_activities: list[Token]
    """Activities whose licence lets a buyer take highly toxic goods without a permit."""
    holder_events: list[Token]
    """Event types by which an organisation holds goods (receive, use): see ``holders``."""
    holders: dict[Token, HolderRequirement]
    """Category → what its holder needs; a chemical of several categories needs each."""


class WasteRules(_Strict):
    """Hazardous waste handed to a disposer (R-WST-1, 危险废物转移管理办法 2021)."""

    disposer_licence_kinds: Annotated[list[Token], Field(min_length=1)]
    """Licence record kinds that are a hazardous-waste business licence (危险废物经营许可证)."""
    disposer_activities: Annotated[list[Token], Field(min_length=1)]
    manifest_pattern: Annotated[str, StringConstraints(min_length=2, max_length=200)]
    """A well-formed transfer manifest (转移联单) number, as a full-match regex."""
    manifest_record_kinds: list[Token]
    """Permit record kinds that are a filed manifest; a transferor that files any must cite
    one of its own, for this disposer and this waste."""

    @field_validator("manifest_pattern")
    @classmethod
    def _compiles(cls, pattern: str) -> str:
        try:
            re.compile(pattern)
        except re.error as exc:
            raise ValueError(f"manifest_pattern is not a regex: {exc}") from None
        return pattern


class InspectionRules(_Strict):
    failed_outcomes: Annotated[list[Token], Field(min_length=1)]
    """``inspect`` outcomes after which a cylinder may not be filled until it passes again."""


class KeyRules(_Strict):
    evidence_limit: Annotated[int, Field(ge=1, le=1000)]
    """How many affected events a backdated-revocation finding names (the newest); it
    always states how many there are and over which log times."""


class PermitRules(_Strict):
    toxic_categories: list[Token]
    filing_days: PositiveDecimal
    """Whole days, counted as the Civil Code counts them (:mod:`ledger.localtime`)."""
    individual_banned: list[Token]
    precursor_permit_categories: list[Token]
    precursor_filing_categories: list[Token]

    @field_validator("filing_days")
    @classmethod
    def _whole_days(cls, days: Decimal) -> Decimal:
        if days != days.to_integral_value():
            raise ValueError("filing_days counts whole days")
        return days


class StorageRules(_Strict):
    hazard_warn: PositiveDecimal
    hazard_alert: PositiveDecimal
    hazard_warn_severity: Severity
    """``storage.major_hazard`` below the alert level; at it, the rule's own severity."""
    unit_distance_m: PositiveDecimal
    """R-MHI-1 (GB 18218-2009 §3.5 unit): one enterprise's facilities less than this far
    apart are one unit of assessment."""
    two_person_categories: list[Token]
    cylinder_packaging: list[Token]
    segregation: SegregationMatrix
    """Named in the file by its path under the rules folder, e.g.
    ``segregation/gb15603-provisional.json``; :func:`parse_rules` reads it in."""


class Prohibition(_Strict):
    chemical: Token
    since: Annotated[str, StringConstraints(pattern=r"^\d{4}-\d{2}-\d{2}T.*Z$")]
    source: str


class CityRules(_Strict):
    prohibited: list[Prohibition]
    restricted_districts: list[Token]
    bulk_limit_kg: PositiveDecimal
    bulk_allowed_chemicals: list[Token]


class DormancyRules(_Strict):
    days_by_status: dict[Token, PositiveDecimal]


class DeviceRules(_Strict):
    clock_trust_hours: Annotated[Decimal, Field(ge=0)]
    """How long before its log time a device's signed time is still believed (offline sync)."""


class ShippingRules(_Strict):
    """Movement between places: unshipped moves, the planned route, the pass, a lost track."""

    unshipped_move_km: PositiveDecimal
    """Two places of one holder closer than this are one premises (no road trip between)."""
    corridor_m: PositiveDecimal
    """A route's corridor half-width when its waybill names none."""
    track_silence_hours: PositiveDecimal
    pass_categories: list[Token]
    """Categories whose road transport needs a pass (R-TOX-7: highly toxic)."""
    pass_kinds: Annotated[list[Token], Field(min_length=1)]
    """Permit record kinds that are such a pass."""


class RulesConfig(_Strict):
    version: Token
    severity: dict[str, Severity]
    transport: TransportRules
    clone: CloneRules
    mass: MassRules
    licence: LicenceRules
    permits: PermitRules
    storage: StorageRules
    city: CityRules
    dormancy: DormancyRules
    device: DeviceRules
    shipping: ShippingRules
    waste: WasteRules
    inspection: InspectionRules
    keys: KeyRules

    @field_validator("severity")
    @classmethod
    def _every_rule_has_a_severity(cls, severity: dict[str, Severity]) -> dict[str, Severity]:
        if set(severity) != set(RULES):
            missing = sorted(set(RULES) - set(severity))
            extra = sorted(set(severity) - set(RULES))
            raise ValueError(f"severity must name every rule: missing {missing}, unknown {extra}")
        return severity


_INCLUDE: Final = re.compile(r"^[a-z0-9_-]+(/[a-z0-9_.-]+)*\.json$")


def parse_rules(
    text: str, *, source: str = "rules", include: Callable[[str], str] | None = None
) -> RulesConfig:
    """Parse a rules configuration; decimals are JSON strings.

    ``include`` reads a file the configuration names by a relative path (the segregation
    matrix), e.g. from the folder the configuration came from; without it such a
    configuration is refused (the core reads no files itself).

    Raises:
        InvalidInputError: the text is not a valid configuration (the field is named).
    """
    try:
        raw = json.loads(text, parse_float=_Float)
        _include_matrix(raw, include)
        return RulesConfig.model_validate(_decimals(raw), strict=False)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(part) for part in first["loc"])
        raise InvalidInputError(f"{source}: {where}: {first['msg']}", field=where) from None
    except _FieldError as exc:
        raise InvalidInputError(f"{source}: {exc.where}: {exc}", field=exc.where) from None
    except (ValueError, TypeError) as exc:
        raise InvalidInputError(f"{source}: {exc}") from None


def _include_matrix(raw: object, include: Callable[[str], str] | None) -> None:
    storage = raw.get("storage") if isinstance(raw, dict) else None
    name = storage.get("segregation") if isinstance(storage, dict) else None
    if not isinstance(name, str):
        return
    assert isinstance(storage, dict)
    if _INCLUDE.fullmatch(name) is None or ".." in name.split("/"):
        raise _FieldError(
            "storage.segregation", f"not a .json path under the rules folder: {name!r}"
        )
    if include is None:
        raise _FieldError("storage.segregation", f"names {name}, but no file reader was given")
    try:
        storage["segregation"] = json.loads(include(name), parse_float=_Float)
    except OSError as exc:
        raise _FieldError("storage.segregation", f"cannot read {name}: {exc.strerror}") from None
    except json.JSONDecodeError as exc:
        raise _FieldError("storage.segregation", f"{name} is not JSON: {exc.msg}") from None


class _Float:
    """A JSON number with a fraction or exponent: refused where it is found, by name."""

    __slots__ = ("text",)

    def __init__(self, text: str) -> None:
        self.text = text


class _FieldError(ValueError):
    def __init__(self, where: str, message: str) -> None:
        super().__init__(message)
        self.where = where


_DECIMAL_FIELDS: Final = frozenset({
    "speed_kmh", "slack_hours", "road_factor", "default_transit_hours", "gps_gap_minutes",
    "arrival_radius_km", "max_speed_kmh", "min_distance_km", "transform_tolerance",
    "count_tolerance", "growth_tolerance", "org_tolerance", "org_min_kg",
    "hazard_warn", "hazard_alert", "bulk_limit_kg", "filing_days", "unit_distance_m",
    "clock_trust_hours",
    "receive_tolerance",
    "unshipped_move_km", "corridor_m", "track_silence_hours",
})  # fmt: skip
_DECIMAL_MAPS: Final = frozenset({"days_by_status"})


def _decimals(raw: object, path: tuple[str, ...] = ()) -> object:
    """Turn the decimal-string fields into Decimals; ints elsewhere stay ints."""
    name = next((part for part in reversed(path) if not part.isdigit()), "")
    if isinstance(raw, dict):
        if name in _DECIMAL_MAPS:
            return {key: _decimal(value, (*path, key)) for key, value in raw.items()}
        return {key: _decimals(value, (*path, key)) for key, value in raw.items()}
    if isinstance(raw, list):
        return [_decimals(value, (*path, str(i))) for i, value in enumerate(raw)]
    if name in _DECIMAL_FIELDS:
        return _decimal(raw, path)
    if isinstance(raw, _Float):
        raise _FieldError(".".join(path), f"write decimals as strings, not {raw.text}")
    return raw


def _decimal(value: object, path: tuple[str, ...]) -> Decimal:
    where = ".".join(path)
    if isinstance(value, _Float):
        raise _FieldError(where, f"write decimals as strings, not {value.text}")
    if not isinstance(value, str):
        raise _FieldError(where, "must be a decimal string")
    try:
        return Decimal(value)
    except ArithmeticError:
        raise _FieldError(where, f"not a decimal: {value!r}") from None
