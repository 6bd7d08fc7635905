"""Event bodies rebuilt from bytes the ledger already validated, without validating again.

Ingest validates every body strictly (:func:`ledger.events.parse_body`) and stores the
canonical envelope whose hash the log commits to. Reading those bytes back, a reader that
has checked them against that hash (:func:`ledger.store.findings` checks the envelope
against the event hash and the log's leaf) holds exactly the bytes that passed, so
validating them again could only cost time: a rescan spent a third of its time there.

:func:`trusted_body` builds the same pydantic objects validation would (same classes,
field values, defaults and set fields), as ``model_construct`` does, but recursively, from
builders derived once from the models' own field annotations: a field added to a model
is picked up without touching this module, and a model feature the builders cannot
mirror (aliases, private attributes, post-init hooks, extra keys not forbidden, a field
type other than JSON values, models, lists, dicts and optionals of them) stops the import
instead of silently building something else. A test compares the result with strict
validation on every event of a simulated ledger.
"""

from __future__ import annotations

import types
import typing
from collections.abc import Callable, Mapping
from typing import Any, Final, Literal, Union, get_args, get_origin

from pydantic import BaseModel

from ledger.events import EventBody

Build = Callable[[Any], Any]

_set_attribute: Final = object.__setattr__


def _model_builder(cls: type[BaseModel], known: dict[type[BaseModel], Build]) -> Build:
    if cls in known:
        return known[cls]
    if cls.__private_attributes__ or cls.__pydantic_post_init__ or cls.__pydantic_root_model__:
        raise TypeError(f"{cls.__name__}: a trusted build cannot mirror this model")
    if cls.model_config.get("extra") != "forbid":
        # the fields set is taken to be the raw keys: only right when no other key can pass
        raise TypeError(f"{cls.__name__}: extra fields are not forbidden")
    plain: list[tuple[str, bool, Any]] = []
    nested: list[tuple[str, Build]] = []
    new = cls.__new__

    def build(raw: Mapping[str, Any]) -> BaseModel:
        # in field order, as validation fills ``__dict__``; nested models are built after
        try:
            values = {name: raw[name] if required or name in raw else default
                      for name, required, default in plain}  # fmt: skip
        except KeyError as exc:
            raise KeyError(f"{cls.__name__}.{exc.args[0]} is missing from a trusted body") from None
        for name, convert in nested:
            if name in raw:
                values[name] = convert(raw[name])
        made = new(cls)
        _set_attribute(made, "__dict__", values)
        _set_attribute(made, "__pydantic_fields_set__", set(raw))
        _set_attribute(made, "__pydantic_extra__", None)
        _set_attribute(made, "__pydantic_private__", None)
        return made

    known[cls] = build  # before the fields: a model may nest itself
    for name, info in cls.model_fields.items():
        if info.alias not in (None, name) or info.validation_alias not in (None, name):
            raise TypeError(f"{cls.__name__}.{name}: aliases are not mirrored")
        if info.default_factory is not None:
            raise TypeError(f"{cls.__name__}.{name}: default factories are not mirrored")
        default = None if info.is_required() else info.default
        if isinstance(default, (list, dict, set, BaseModel)):
            raise TypeError(f"{cls.__name__}.{name}: a mutable default would be shared")
        convert = _builder(info.annotation, known)
        plain.append((name, info.is_required(), default))
        if convert is not None:
            nested.append((name, convert))
    return build


def _builder(annotation: Any, known: dict[type[BaseModel], Build]) -> Build | None:
    """How to turn a JSON value into the field's value; ``None``: it is used as it is."""
    origin = get_origin(annotation)
    if origin is typing.Annotated:
        return _builder(get_args(annotation)[0], known)
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return _model_builder(annotation, known)
    if annotation in (str, int, bool, type(None)) or origin is Literal:
        return None
    if origin in (Union, types.UnionType):
        options = [a for a in get_args(annotation) if a is not type(None)]
        if len(options) != 1:
            raise TypeError(f"{annotation}: only X | None unions are mirrored")
        optional = _builder(options[0], known)
        if optional is None:
            return None
        return lambda value: None if value is None else optional(value)
    if origin is list:
        (element,) = get_args(annotation)
        each = _builder(element, known)
        if each is None:
            return list
        return lambda value: [each(x) for x in value]
    if origin is dict:
        key, element = get_args(annotation)
        if _builder(key, known) is not None or _builder(element, known) is not None:
            raise TypeError(f"{annotation}: only dicts of plain values are mirrored")
        return dict
    raise TypeError(f"{annotation}: not a type a trusted build mirrors")


def _body_builders() -> dict[str, Build]:
    known: dict[type[BaseModel], Build] = {}
    by_type: dict[str, Build] = {}
    for cls in get_args(get_args(EventBody)[0]):
        (tag,) = get_args(cls.model_fields["type"].annotation)
        by_type[tag] = _model_builder(cls, known)
    return by_type


_BY_TYPE: Final = _body_builders()


def trusted_body(raw: Mapping[str, Any]) -> EventBody:
    """The body validation would give for ``raw``, which must be a body the ledger
    validated at ingest (checked against its logged hash): nothing is checked here.

    Raises:
        KeyError: the body has no known ``type`` or lacks a required field (so these bytes
            were never validated: the caller's hash check should have refused them).
    """
    body: EventBody = _BY_TYPE[raw["type"]](raw)
    return body
