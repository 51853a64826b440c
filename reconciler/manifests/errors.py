"""Pydantic errors → diagnostics a person can act on.

Pydantic reports a location such as ``('method', 'supervised', 'hyperparameters', 'n_epoch')``: the
``supervised`` there is the tag of a discriminated union, not a key the user wrote. We walk the
location against the user's data and keep only the parts that exist in it, which gives the field
path the user sees and the line it is on. For unknown keys we walk the model classes along the
same location to suggest the closest allowed field.
"""

from __future__ import annotations

import difflib
import re
import types
import typing
from typing import Any

from pydantic import BaseModel, ValidationError
from pydantic_core import ErrorDetails

from reconciler.diagnostics import Diagnostic, dotted
from reconciler.manifests.graders import TOP_LEVEL_GRADER_TYPES
from reconciler.manifests.model import (
    CHECKPOINT_PATTERN,
    JOB_ID_PATTERN,
    NAME_PATTERN,
    DpoHyperparameters,
    Manifest,
    ReinforcementHyperparameters,
)
from reconciler.manifests.yamlsrc import Located, Path_

_HYPERPARAMETERS = set(ReinforcementHyperparameters.model_fields) | set(DpoHyperparameters.model_fields)


def _user_path(data: Any, loc: tuple[int | str, ...], kind: str) -> Path_:
    """The part of ``loc`` that names keys and indexes present in ``data``."""
    path: list[str | int] = []
    current = data
    for i, part in enumerate(loc):
        last = i == len(loc) - 1
        in_dict = isinstance(current, dict) and part in current
        in_list = isinstance(current, list) and isinstance(part, int) and 0 <= part < len(current)
        if in_dict or in_list:
            path.append(part)
            current = current[part]
        elif last and kind == "missing":
            path.append(part)  # a missing field: name it although it is not in the data
    if kind == "union_tag_invalid" and isinstance(current, dict) and "type" in current:
        path.append("type")  # point at the wrong tag itself
        # else: a union tag or validator name that is not the user's key; skip it
    return tuple(path)


def _concrete(tp: Any) -> list[Any]:
    """Unwrap Annotated / Optional / unions into the concrete types a value may take."""
    origin = typing.get_origin(tp)
    if origin is typing.Annotated:
        return _concrete(typing.get_args(tp)[0])
    if origin in (typing.Union, types.UnionType):
        return [c for arg in typing.get_args(tp) for c in _concrete(arg)]
    return [tp]


def _models_at(loc: tuple[int | str, ...], root: type[BaseModel] = Manifest) -> list[type[BaseModel]]:
    current: list[Any] = [root]
    for part in loc:
        nxt: list[Any] = []
        for tp in (c for t in current for c in _concrete(t)):
            origin = typing.get_origin(tp)
            if isinstance(tp, type) and issubclass(tp, BaseModel):
                if isinstance(part, str) and part in tp.model_fields:
                    nxt.append(tp.model_fields[part].annotation)
                elif part in typing.get_args(getattr(tp.model_fields.get("type"), "annotation", None)):
                    nxt.append(tp)  # a union tag names this model itself
            elif origin is list and isinstance(part, int):
                nxt.append(typing.get_args(tp)[0])
            elif origin is dict:
                nxt.append(typing.get_args(tp)[1])
        current = nxt
    return [c for t in current for c in _concrete(t) if isinstance(c, type) and issubclass(c, BaseModel)]


def _suggest(loc: tuple[int | str, ...], root: type[BaseModel] = Manifest) -> str:
    key = str(loc[-1])
    allowed = sorted({name for model in _models_at(loc[:-1], root) for name in model.model_fields})
    close = difflib.get_close_matches(key, allowed, n=1, cutoff=0.6)
    if close:
        return f"unknown field (did you mean {close[0]}?)"
    if allowed:
        return f"unknown field (allowed: {', '.join(allowed)})"
    return "unknown field"


def _typename(value: Any) -> str:
    if value is None:
        return "null"
    return {bool: "boolean", int: "integer", float: "number", str: "string", list: "list",
            dict: "mapping"}.get(type(value), type(value).__name__)


def _short(value: Any, limit: int = 80) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[:limit] + "…"


def _message(err: ErrorDetails, user_path: Path_, root: type[BaseModel] = Manifest) -> str:
    kind = err["type"]
    ctx = err.get("ctx") or {}
    value = err.get("input")
    if kind == "extra_forbidden":
        if user_path[-2:] == ("method", "grader") and len(user_path) == 2:
            return (f"a grader is only allowed with method type reinforcement "
                    f"(this job is {err['loc'][1]})")
        if len(user_path) == 1 and user_path[0] in _HYPERPARAMETERS:
            return "unknown field (hyperparameters go under method.hyperparameters)"
        return _suggest(err["loc"], root)
    if kind == "missing":
        return "required field missing"
    if kind == "union_tag_invalid":
        tag = ctx.get("tag")
        if tag == "label_model" and "graders" not in user_path:
            return "label_model graders are only allowed inside a multi grader (graders: {name: ...})"
        if user_path == ("method", "type"):
            return f"unknown method type {tag!r}; expected one of {ctx.get('expected_tags')}"
        return f"unknown type {tag!r}; expected one of {ctx.get('expected_tags')}"
    if kind == "union_tag_not_found" and not isinstance(value, dict):
        example = "{type: supervised}" if user_path == ("method",) else "{type: …}"
        return f"must be a mapping such as {example}, got {_typename(value)} {_short(value)}"
    if kind == "union_tag_not_found":
        if user_path and user_path[-1] == "grader":
            return f"grader needs a type: one of {', '.join(TOP_LEVEL_GRADER_TYPES)}"
        return "a 'type' field is required here"
    if kind == "literal_error":
        return f"must be {ctx.get('expected')}, got {value!r}"
    if kind == "string_pattern_mismatch" and ctx.get("pattern") == NAME_PATTERN:
        what = "name" if user_path[-1:] == ("name",) else f"{user_path[-1]} name"
        return (f"{_short(value)} is not a valid {what}: use 1-63 lowercase letters, digits and '-', "
                "starting and ending with a letter or digit")
    if kind == "string_pattern_mismatch" and ctx.get("pattern") == CHECKPOINT_PATTERN:
        return f"must be final, last or step N (a step of the upstream's training), got {_short(value)}"
    if kind == "string_pattern_mismatch" and ctx.get("pattern") == JOB_ID_PATTERN:
        return f"{_short(value)} is not a fine-tuning job ID (ftjob-…)"
    if kind.endswith("_type") or kind in ("model_type", "model_attributes_type", "dict_type", "list_type"):
        expected = err["msg"].removeprefix("Input should be ").removesuffix(" instance")
        expected = re.sub(r" or instance of \w+$", "", expected)
        expected = {"a valid dictionary": "a mapping"}.get(expected, expected)
        hint = " (YAML reads yes/no/on/off as booleans: quote the value)" if isinstance(value, bool) else ""
        return f"must be {expected}, got {_typename(value)} {_short(value)}" + hint
    message = err["msg"]
    if message.startswith("Input should be "):
        message = "must be " + message.removeprefix("Input should be ")
        return f"{message}, got {_short(value)}"
    if message.startswith("Value error, "):
        message = message.removeprefix("Value error, ")
    return message[:1].lower() + message[1:]


def diagnostics_from_validation(exc: ValidationError, doc: Located, shown: str,
                                model: type[BaseModel] = Manifest) -> list[Diagnostic]:
    out: list[Diagnostic] = []
    for err in exc.errors(include_url=False):
        user_path = _user_path(doc.data, err["loc"], err["type"])
        out.append(Diagnostic(shown, doc.line_of(user_path), dotted(user_path), _message(err, user_path, model)))
    return sorted(set(out), key=lambda d: (d.line, d.field, d.message))
