"""The event forms: which fields each event type asks for, derived from its data model.

Every event type whose items all play the ``subject`` role (one scanned item) gets a form.
Its fields are the fields of the type's data model in :mod:`ledger.events`, required ones
first: a quantity is a value and a unit, a closed set of words (``Literal``) a choice, and
any other string a line of text. A type with a field no form can hold (``correct`` takes a
mapping of changes) is left out rather than half offered. Checking the values is the
model's job: :meth:`EventForm.data` validates them with it before anything is signed.

Nothing here draws anything; :mod:`scanners.tui.fields` turns a form into widgets.
"""

from __future__ import annotations

import types
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Annotated, Any, Literal, Union, get_args, get_origin

from pydantic import BaseModel, ValidationError
from pydantic.fields import FieldInfo

from ledger import events
from ledger.canonical import JsonValue
from scanners.errors import ScannerError

FieldKind = Literal["text", "choice", "quantity"]
FieldValue = str | tuple[str, str]
"""What a person entered: a text or choice, or a quantity's (value, unit)."""

_HINTS: tuple[tuple[Any, str], ...] = (
    (get_args(events.Hash)[1], "sha256:…"),
    (get_args(events.EntityId)[1], "an id, e.g. p-chem-site"),
    (get_args(events.DocumentNo)[1], "a document number"),
    (get_args(events.UtcTime)[1], "YYYY-MM-DDThh:mm:ssZ (UTC)"),
)
_POSITION_TYPES = frozenset({"waypoint"})
"""Types whose body (not only their data) needs the device's position (``geo``)."""


class FormError(ScannerError):
    """The values do not make a valid event; the message names each field at fault."""


@dataclass(frozen=True, slots=True)
class FieldSpec:
    """One field of a form."""

    name: str
    kind: FieldKind
    required: bool
    choices: tuple[str, ...] = ()
    hint: str = ""

    @property
    def label(self) -> str:
        return self.name.replace("_", " ")


@dataclass(frozen=True, slots=True)
class EventForm:
    """The form of one event type."""

    event_type: str
    model: type[BaseModel]
    fields: tuple[FieldSpec, ...]
    starts_chain: bool
    """Whether this event may be an item's first (only ``commission`` among these)."""

    @property
    def required(self) -> tuple[FieldSpec, ...]:
        return tuple(spec for spec in self.fields if spec.required)

    @property
    def optional(self) -> tuple[FieldSpec, ...]:
        return tuple(spec for spec in self.fields if not spec.required)

    @property
    def position(self) -> tuple[FieldSpec, ...]:
        """The device position's fields, for the types whose body needs one."""
        return _POSITION_FIELDS if self.event_type in _POSITION_TYPES else ()

    def describe(self) -> str:
        """``ship: carrier, consignee, consignee site``, for the list of types."""
        needed = ", ".join(spec.label for spec in (*self.required, *self.position))
        return f"{self.event_type}: {needed or 'nothing more'}"

    def data(self, values: Mapping[str, FieldValue]) -> dict[str, JsonValue]:
        """The event's ``data`` from the entered values (blank optional fields left out).

        Raises:
            FormError: a required field is blank, or the model refuses a value.
        """
        return _validated(self.model, self.fields, values)

    def geo(self, values: Mapping[str, FieldValue]) -> dict[str, str] | None:
        """The event's ``geo``, for the types that need one (raises :class:`FormError`)."""
        if not self.position:
            return None
        return {key: str(value) for key, value in _validated(events.Geo, self.position,
                                                             values).items()}  # fmt: skip


def _validated(
    model: type[BaseModel], specs: tuple[FieldSpec, ...], values: Mapping[str, FieldValue]
) -> dict[str, JsonValue]:
    data: dict[str, JsonValue] = {}
    missing: list[str] = []
    for spec in specs:
        value = values.get(spec.name, "")
        entered = value[0] if isinstance(value, tuple) else value
        if not entered.strip():
            if spec.required:
                missing.append(spec.label)
            continue
        if isinstance(value, tuple):
            data[spec.name] = {"value": value[0].strip(), "unit": value[1]}
        else:
            data[spec.name] = value.strip()
    if missing:
        raise FormError("fill in: " + ", ".join(missing))
    try:
        model.model_validate(data, strict=True)
    except ValidationError as exc:
        raise FormError("; ".join(_plain(error) for error in exc.errors())) from exc
    return data


def _plain(error: Mapping[str, Any]) -> str:
    where = " ".join(str(part).replace("_", " ") for part in error["loc"])
    message = str(error["msg"]).removeprefix("Value error, ")
    return f"{where}: {message}" if where else message


def _field_spec(name: str, info: FieldInfo) -> FieldSpec | None:
    """The form field for one model field, or ``None`` when no form field can hold it."""
    annotation: Any = info.annotation
    metadata = list(info.metadata)
    if get_origin(annotation) in (Union, types.UnionType):
        present = [arg for arg in get_args(annotation) if arg is not type(None)]
        if len(present) != 1:
            return None
        annotation = present[0]
    if get_origin(annotation) is Annotated:
        annotation, *extra = get_args(annotation)
        metadata += extra
    required = info.is_required()
    if isinstance(annotation, type) and issubclass(annotation, events.Quantity):
        units = get_args(events.Quantity.model_fields["unit"].annotation)
        return FieldSpec(name, "quantity", required, choices=units)
    if get_origin(annotation) is Literal:
        return FieldSpec(name, "choice", required, choices=get_args(annotation))
    if annotation is str:
        hint = next((text for marker, text in _HINTS if marker in metadata), "")
        return FieldSpec(name, "text", required, hint=hint)
    return None


def _form(body: type[events._Body]) -> EventForm | None:
    if body.allowed_roles != frozenset({"subject"}):
        return None  # several items in several roles: not a one-scan handoff
    (event_type,) = get_args(body.model_fields["type"].annotation)
    model = body.model_fields["data"].annotation
    assert isinstance(model, type)
    assert issubclass(model, BaseModel)
    specs = [_field_spec(name, info) for name, info in model.model_fields.items()]
    if any(spec is None and info.is_required() for spec, info in
           zip(specs, model.model_fields.values(), strict=True)):  # fmt: skip
        return None
    # An optional field no form field holds (a planned route) comes from an ERP, not a thumb.
    ordered = sorted((spec for spec in specs if spec is not None), key=lambda s: not s.required)
    starts_chain = "subject" in body.genesis_roles
    return EventForm(event_type, model, tuple(ordered), starts_chain=starts_chain)


def _all_forms() -> dict[str, EventForm]:
    (bodies, *_) = get_args(events.EventBody)
    forms = (_form(body) for body in get_args(bodies))
    return {form.event_type: form for form in forms if form is not None}


_POSITION_FIELDS: tuple[FieldSpec, ...] = tuple(
    spec
    for name, info in events.Geo.model_fields.items()
    if (spec := _field_spec(name, info)) is not None
)
FORMS: dict[str, EventForm] = _all_forms()
"""Every one-item event type's form, in the order :data:`ledger.events.EventType` lists them."""
