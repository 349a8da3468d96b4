"""One adapter between the declarative file schemas (pydantic models, cloudctl/schemas/) and
the ``file:line: message`` errors every loader gives.

A file is loaded with :func:`cloudctl.core.yamlio.load_yaml` (every mapping and list knows
the line of each key and item); :func:`check` runs a model over it and maps each pydantic
error's ``loc`` path (``("waivers", 1, "expires")``) back to that line by walking the
loaded document along the path. The same models are exported as JSON Schema
(:func:`json_schema`) so that editors with the YAML language server check and complete the
files as cloudctl does.
"""

from __future__ import annotations

import types
import typing
from collections.abc import Sequence
from typing import Any

from pydantic import BaseModel, ValidationError

from cloudctl.core.errors import Location, Problem, ValidationFailed
from cloudctl.core.i18n import _
from cloudctl.core.yamlio import LDict, LList, loc_of

JSON_SCHEMA_DIALECT = "https://json-schema.org/draft/2020-12/schema"


def check[M: BaseModel](model: type[M], data: Any, file: str) -> tuple[M | None, list[Problem]]:
    """``(the validated model, [])`` or ``(None, problems at file:line)``."""
    try:
        return model.model_validate(data), []
    except ValidationError as e:
        return None, problems_of(e, model, data, file)


def validate[M: BaseModel](model: type[M], data: Any, file: str, summary: str | None = None) -> M:
    """:func:`check`, raising every problem at once (exit 2)."""
    obj, probs = check(model, data, file)
    if obj is None:
        raise ValidationFailed(probs, summary)
    return obj


def problems_of(
    err: ValidationError, model: type[BaseModel], data: Any, file: str
) -> list[Problem]:
    """Pydantic errors as problems a person can act on, each at the line it is about.

    Required values that are absent, null or empty are reported together per mapping
    (``waiver misses approver, expires``); an unknown key names the known ones."""
    top = Location(file)
    missing: dict[tuple, list[str]] = {}
    out: list[Problem] = []
    for e in err.errors(include_url=False):
        loc = tuple(e["loc"])
        kind = e["type"]
        if kind == "missing" or (_empty(e.get("input")) and kind != "extra_forbidden"):
            missing.setdefault(loc[:-1], []).append(str(loc[-1]) if loc else "?")
            continue
        if kind == "extra_forbidden":
            parent = _model_at(model, loc[:-1])
            known = ", ".join(sorted(_keys(parent))) if parent else ""
            prefix = f"{_label(model, loc[:-1])}: " if loc[:-1] else ""
            where = _where(data, loc, file) or top
            hint = f" (known: {known})" if known else ""
            out.append(
                Problem(
                    where,
                    _("{prefix}unknown key {loc!r}{hint}").format(
                        prefix=prefix, loc=loc[-1], hint=hint
                    ),
                )
            )
            continue
        where = _where(data, loc, file) or top
        value = e.get("input")
        shown = f"{value!r}: " if isinstance(value, (str, int, float, bool)) and loc else ""
        msg = e["msg"][:1].lower() + e["msg"][1:]
        out.append(Problem(where, f"{_path(loc)}: {shown}{msg}" if loc else msg))
    for parent, fields in missing.items():
        where = _where(data, parent, file) or top
        out.append(
            Problem(
                where,
                _("{label} misses {names}").format(
                    label=_label(model, parent), names=", ".join(fields)
                ),
            )
        )
    return out


def _empty(value: Any) -> bool:
    return value is None or value == ""


def _path(loc: Sequence) -> str:
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


def _where(data: Any, loc: Sequence, file: str) -> Location | None:
    """The line of the deepest part of ``loc`` that exists in the loaded document."""
    cur, where = data, loc_of(data) if isinstance(data, (LDict, LList)) else None
    for part in loc:
        in_map = isinstance(cur, LDict) and part in cur
        in_list = isinstance(cur, LList) and isinstance(part, int) and 0 <= part < len(cur)
        if not (in_map or in_list):
            break
        where, cur = cur.loc(part), cur[part]
    if where is None:
        return None
    return Location(file, where.line)


def _unwrap(tp: Any) -> list[Any]:
    """The classes a field annotation may hold: list[X] / dict[str, X] / X | None -> X."""
    origin = typing.get_origin(tp)
    if origin is typing.Annotated:
        return _unwrap(typing.get_args(tp)[0])
    if origin in (typing.Union, types.UnionType):
        return [x for a in typing.get_args(tp) for x in _unwrap(a)]
    if origin in (list, tuple, set, frozenset, Sequence):
        return [x for a in typing.get_args(tp)[:1] for x in _unwrap(a)]
    if origin is dict:
        return [x for a in typing.get_args(tp)[1:] for x in _unwrap(a)]
    return [tp]


def _model_at(model: type[BaseModel], loc: Sequence) -> type[BaseModel] | None:
    """The model class a ``loc`` path leads to (None where the path leaves the models)."""
    cur: Any = model
    for part in loc:
        if isinstance(part, int) or not (isinstance(cur, type) and issubclass(cur, BaseModel)):
            continue  # an index, or a dict key: the annotation already named the item type
        field = _field(cur, str(part))
        if field is None:
            return None
        found = [t for t in _unwrap(field.annotation) if isinstance(t, type)]
        models = [t for t in found if issubclass(t, BaseModel)]
        cur = models[0] if models else None
    return cur if isinstance(cur, type) and issubclass(cur, BaseModel) else None


def _field(model: type[BaseModel], key: str):
    for name, f in model.model_fields.items():
        if key in (name, f.alias):
            return f
    return None


def _keys(model: type[BaseModel]) -> list[str]:
    return [f.alias or name for name, f in model.model_fields.items()]


def _label(model: type[BaseModel], loc: Sequence) -> str:
    """What a mapping is called in messages: the model's ``label`` or its path."""
    found = _model_at(model, loc)
    label = getattr(found, "label", None) if found is not None else None
    return label or _path(loc) or "file"


def json_schema(model: type[BaseModel], kind: str) -> dict:
    """The JSON Schema (2020-12) of one file kind, as editors read it."""
    doc = model.model_json_schema(by_alias=True)
    return {"$schema": JSON_SCHEMA_DIALECT, "title": doc.pop("title", kind), **doc}
