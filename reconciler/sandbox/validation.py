"""The sandbox's one request validation layer: every operation parses what it is sent into a strict
model before it acts, and the first thing wrong becomes OpenAI's 400 body naming the parameter.

The models are the shapes of the vendored OpenAPI description (tests/openai-spec/) — types, enums,
ranges, unknown fields — reusing the client's own strict models where they are the same thing (a W&B
integration, a method's hyperparameters: ``reconciler.manifests``). Checks the API makes beyond the
shape (a file that must exist, a model that must be fine-tunable) stay with each route; they run after
this layer, so a malformed request is refused as malformed whatever else is wrong with it. Where the
real API is more lenient than the description, the models follow the API (docs/sandbox-fidelity.md).

Messages follow the API's wording: ``Invalid type for 'suffix': expected a string, but got an
integer instead.``, ``Unrecognized request argument supplied: x``, ``Missing required parameter:
'model'.``; the param is the dotted path (``integrations[0].wandb.tags[1]``).
"""

from __future__ import annotations

import json
import re
from collections.abc import Collection
from typing import Annotated, Any, Literal, TypeVar

from pydantic import BaseModel, ConfigDict, Field, ValidationError
from pydantic_core import ErrorDetails

from reconciler.diagnostics import dotted
from reconciler.manifests.model import Integration
from reconciler.sandbox.errors import ApiError

M = TypeVar("M", bound=BaseModel)
MIN_EXPIRY, MAX_EXPIRY = 3600, 2_592_000
"""``expires_after.seconds``: one hour to 30 days."""
_INTEGER = re.compile(r"-?[0-9]+")
_KINDS = {"str": "a string", "int": "an integer", "float": "a number", "bool": "a boolean", "NoneType": "null",
          "list": "an array", "dict": "an object"}
_EXPECTED = {"string_type": "a string", "int_type": "an integer", "float_type": "a number", "bool_type": "a boolean",
             "list_type": "an array", "dict_type": "an object", "model_type": "an object",
             "model_attributes_type": "an object", "int_from_float": "an integer"}


class Shape(BaseModel):
    """A request's shape: strict types, no unknown fields."""

    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)


class ExpiresAfter(Shape):
    anchor: Literal["created_at"]
    seconds: Annotated[int, Field(ge=MIN_EXPIRY, le=MAX_EXPIRY)]


class CreateUpload(Shape):
    filename: Annotated[str, Field(min_length=1)]
    purpose: Literal["assistants", "batch", "fine-tune", "vision"]
    bytes: int
    mime_type: str
    expires_after: ExpiresAfter | None = None


class CompleteUpload(Shape):
    part_ids: list[str]
    md5: str | None = None


class Trained(Shape):
    """``method.supervised`` and ``method.dpo``: hyperparameters (checked per method by the manifests'
    models once the type is known)."""

    hyperparameters: dict[str, Any] | None = None


class Reinforced(Trained):
    grader: dict[str, Any] | None = None  # required: refused by ``requests`` with its own message


class Method(Shape):
    type: Literal["supervised", "dpo", "reinforcement"]
    supervised: Trained | None = None
    dpo: Trained | None = None
    reinforcement: Reinforced | None = None


class CreateJob(Shape):
    """Types only; ranges, the model and the files are checked by ``requests.validate_create``."""

    model_config = ConfigDict(extra="allow")  # unknown fields: refused there, naming the flavour's own
    model: str
    training_file: str
    validation_file: str | None = None
    hyperparameters: dict[str, Any] | None = None
    suffix: str | None = None
    seed: int | None = None
    method: Method | None = None
    metadata: dict[str, Any] | None = None
    integrations: list[Integration] | None = None


def _kind(value: Any) -> str:
    return _KINDS.get(type(value).__name__, type(value).__name__)


def param_of(loc: tuple[int | str, ...], prefix: str = "") -> str | None:
    """``("integrations", 0, "wandb", "tags", 1)`` as the API names it: ``integrations[0].wandb.tags[1]``
    (without the labels pydantic gives the members of a union: ``str``, ``literal['auto']``)."""
    path = [p for p in loc if isinstance(p, int) or not ("[" in p or p in _KINDS)]
    return dotted((prefix, *path) if prefix else tuple(path)) or None


def error_of(first: ErrorDetails, prefix: str = "") -> ApiError:
    """The API's 400 for pydantic's first error."""
    param = param_of(tuple(first["loc"]), prefix)
    kind = first["type"]
    if kind == "missing":
        return ApiError(400, f"Missing required parameter: '{param}'.", param, "missing_required_parameter")
    if kind == "extra_forbidden":
        return ApiError(400, f"Unrecognized request argument supplied: {param}", param, "unknown_parameter")
    if kind in _EXPECTED or (kind == "literal_error" and not isinstance(first["input"], str)):
        expected = _EXPECTED.get(kind, "a string")
        return ApiError(400, f"Invalid type for '{param}': expected {expected}, but got {_kind(first['input'])} "
                             "instead.", param, "invalid_type")
    return ApiError(400, f"Invalid value for '{param}': {first['msg']}.", param, "invalid_value")


def parse(model: type[M], body: Any, prefix: str = "") -> M:
    """``body`` as ``model``, or the API's 400 naming the first offending parameter."""
    if not isinstance(body, dict):
        where = f"'{prefix}'" if prefix else "the request body"
        raise ApiError(400, f"Invalid type for {where}: expected an object, but got {_kind(body)} instead.",
                       prefix or None, "invalid_type")
    try:
        return model.model_validate(body)
    except ValidationError as exc:
        raise error_of(exc.errors(include_url=False)[0], prefix) from None


def integer(raw: str, name: str) -> int:
    """A query or form field that must be an integer, written as one (no spaces, ``+``, ``_``, ``1.0``)."""
    if not _INTEGER.fullmatch(raw):
        raise ApiError(400, f"Invalid '{name}': expected an integer, got '{raw}'.", name, "invalid_type")
    return int(raw)


def one_of(raw: str | None, name: str, allowed: tuple[str, ...], default: str) -> str:
    """A query field with a closed set of values."""
    if raw is None:
        return default
    if raw not in allowed:
        listed = ", ".join(f"'{a}'" for a in allowed)
        raise ApiError(400, f"Invalid value for '{name}': expected one of {listed}, but got '{raw}'.", name,
                       "invalid_value")
    return raw


def form_fields(names: list[str], allowed: set[str]) -> None:
    """A multipart form's fields: none but ``allowed`` (the description's ``additionalProperties: false``)."""
    unknown = sorted(set(names) - allowed)
    if unknown:
        raise ApiError(400, f"Unrecognized request argument supplied: {unknown[0]}", unknown[0], "unknown_parameter")


def form_expiry(fields: dict[str, Any]) -> ExpiresAfter | None:
    """``expires_after`` of a multipart create: as the SDK sends it (``expires_after[anchor]``,
    ``expires_after[seconds]``) or as one JSON part (OpenAPI's encoding of an object in a form)."""
    anchor, seconds, whole = (fields.get(k) for k in ("expires_after[anchor]", "expires_after[seconds]",
                                                      "expires_after"))
    if whole is not None:
        if anchor is not None or seconds is not None or not isinstance(whole, str):
            raise ApiError(400, "Invalid 'expires_after': give it once, as {anchor, seconds}.", "expires_after",
                           "invalid_value")
        try:
            value = json.loads(whole)
        except ValueError:
            raise ApiError(400, "Invalid 'expires_after': expected a JSON object {anchor, seconds}.",
                           "expires_after", "invalid_type") from None
        return parse(ExpiresAfter, value, "expires_after")
    if anchor is None and seconds is None:
        return None
    for name, value in (("anchor", anchor), ("seconds", seconds)):
        if not isinstance(value, str):
            raise ApiError(400, f"Missing required parameter: 'expires_after.{name}'.", f"expires_after.{name}",
                           "missing_required_parameter")
    count = integer(str(seconds), "expires_after.seconds")
    return parse(ExpiresAfter, {"anchor": anchor, "seconds": count}, "expires_after")


def json_object(body: Any, fields: Collection[str], required: tuple[str, ...]) -> dict[str, Any]:
    """``body`` when it is a JSON object of only ``fields`` with each of ``required`` given (the checks
    the routes hand-written for their own fields start from: chat completions, embeddings)."""
    if not isinstance(body, dict):
        raise ApiError(400, "The request body must be a JSON object.", None, "invalid_type")
    unknown = sorted(set(body) - set(fields))
    if unknown:
        raise ApiError(400, f"Unrecognized request argument supplied: {unknown[0]}", unknown[0], "unknown_parameter")
    for name in required:
        if body.get(name) is None:
            raise ApiError(400, f"Missing required parameter: '{name}'.", name, "missing_required_parameter")
    return body
