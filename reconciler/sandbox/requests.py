"""Validation of a create-job request the way the real API does it, and its resolution.

The request's shape (types, enums, unknown fields) is checked first, by the sandbox's one validation
layer (``validation.CreateJob``); what is checked here needs more than the shape: the model, the
files, the method's own hyperparameters and grader, the limits the API words its own way.

The real API answers 400 with ``{"error": {message, type, param, code}}`` for a bad request and
resolves what the caller left open: model aliases to snapshots, ``auto`` hyperparameters to
numbers, a missing seed to a random one. Grader and hyperparameter shapes reuse the strict
manifest models, which follow the same OpenAPI schemas.
"""

from __future__ import annotations

import re
import secrets
from collections.abc import Callable
from typing import Any

from pydantic import TypeAdapter, ValidationError

from reconciler import catalog
from reconciler.manifests.graders import Grader, PythonGrader, walk
from reconciler.manifests.model import HYPERPARAMETERS, MAX_SEED
from reconciler.sandbox.errors import ApiError as ApiError  # where the routes have always found it
from reconciler.sandbox.flavor import OPENAI, Flavor
from reconciler.sandbox.validation import CreateJob, parse

CREATE_FIELDS = {"model", "training_file", "validation_file", "hyperparameters", "suffix", "seed",
                 "method", "metadata", "integrations"}
HYPER_MODELS = HYPERPARAMETERS
_GRADER = TypeAdapter(Grader)


def _bad(message: str, param: str | None, code: str | None = "invalid_value") -> ApiError:
    return ApiError(400, message, param, code)


def check_metadata(value: Any, param: str = "metadata") -> dict[str, str] | None:
    if value is None:
        return None
    if not isinstance(value, dict):
        raise _bad("Invalid type for 'metadata': expected an object.", param, "invalid_type")
    if len(value) > 16:
        raise _bad(f"Invalid 'metadata': too many properties. Expected an object with at most 16 "
                   f"properties, but got an object with {len(value)} properties instead.", param)
    for key, item in value.items():
        if len(key) > 64:
            raise _bad(f"Invalid 'metadata': key '{key[:70]}' is longer than 64 characters.", param)
        if not isinstance(item, str):
            raise _bad(f"Invalid type for 'metadata.{key}': expected a string.", param, "invalid_type")
        if len(item) > 512:
            raise _bad(f"Invalid 'metadata.{key}': string too long (at most 512 characters).", param)
    return dict(value)


def _check_integrations(value: Any) -> list[dict[str, Any]] | None:
    """Each one's types are checked by the validation layer (the manifests' ``Integration``)."""
    if value is None:
        return None
    if len(value) > 5:
        raise _bad("'integrations' must be a list of at most 5 integrations.", "integrations")
    return list(value)


def _check_lambda(grader: Any) -> dict[str, Any]:
    """Bedrock's grader: ``{"type": "lambda", "lambda": {"function": ARN}}``, and no other."""
    function = grader.get("lambda", {}).get("function") if isinstance(grader, dict) and \
        isinstance(grader.get("lambda"), dict) else None
    if not isinstance(grader, dict) or grader.get("type") != "lambda" or not isinstance(function, str) or \
            not function.startswith("arn:"):
        raise _bad("A reinforcement job is graded by an AWS Lambda function: method.reinforcement.grader must be "
                   '{"type": "lambda", "lambda": {"function": "arn:aws:lambda:…"}}.', "method.reinforcement.grader")
    return dict(grader)


def _check_grader(grader: Any, flavor: Flavor) -> dict[str, Any]:
    if flavor.lambda_grader:
        return _check_lambda(grader)
    try:
        parsed = _GRADER.validate_python(grader)
    except ValidationError as exc:
        first = exc.errors(include_url=False)[0]
        where = ".".join(str(p) for p in first["loc"])
        raise _bad(f"Invalid grader: {where}: {first['msg']}", "method.reinforcement.grader") from None
    pythons = [g for _, g in walk(parsed) if isinstance(g, PythonGrader)]
    if pythons and not flavor.python_grader:
        raise _bad("The python grader is not supported here.", "method.reinforcement.grader")
    if any(p.source is None for p in pythons):
        raise _bad("Invalid grader: python graders need 'source'.", "method.reinforcement.grader")
    return dict(grader)


def _method(body: dict[str, Any], flavor: Flavor) -> tuple[str, dict[str, Any], dict[str, Any] | None]:
    """(type, hyperparameters as sent, grader) from ``method`` or the deprecated top level (their types
    already checked by ``CreateJob``)."""
    method = body.get("method")
    legacy = body.get("hyperparameters")
    if method is None:
        check_hyperparameters("supervised", legacy or {}, "hyperparameters")
        return "supervised", dict(legacy or {}), None
    kind = method["type"]
    extra = sorted(k for k in set(method) - {"type", kind} if method[k] is not None)
    if extra:
        raise _bad(f"Unrecognized argument in method: {extra[0]}", f"method.{extra[0]}", "unknown_parameter")
    inner = method.get(kind) or {}
    if legacy is not None and kind != "supervised":
        raise _bad("hyperparameters may only be given at the top level for supervised jobs.", "hyperparameters")
    where = f"method.{kind}.hyperparameters" if inner.get("hyperparameters") is not None else "hyperparameters"
    hyper = dict(inner.get("hyperparameters") or legacy or {})
    check_hyperparameters(kind, hyper, where)
    grader = inner.get("grader")
    if kind == "reinforcement":
        if grader is None:
            raise _bad("method.reinforcement.grader is required.", "method.reinforcement.grader", "missing")
        grader = _check_grader(grader, flavor)
    return kind, hyper, grader


def check_hyperparameters(kind: str, sent: dict[str, Any], where: str) -> dict[str, Any]:
    """``sent`` parsed by the method's hyperparameter model (the manifests'), or the API's 400."""
    try:
        return HYPER_MODELS[kind].model_validate(sent).model_dump()
    except ValidationError as exc:
        first = exc.errors(include_url=False)[0]
        name = str(first["loc"][0]) if first["loc"] else ""
        message = "Unrecognized hyperparameter" if first["type"] == "extra_forbidden" else first["msg"]
        raise _bad(f"{message}: {name}", f"{where}.{name}" if name else where) from None


def resolve_hyperparameters(kind: str, sent: dict[str, Any], examples: int) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in check_hyperparameters(kind, sent, f"method.{kind}.hyperparameters").items():
        if value != "auto":
            out[key] = value
        elif key == "n_epochs":
            out[key] = catalog.auto_epochs(examples)
        elif key == "batch_size":
            out[key] = catalog.auto_batch_size(examples)
        else:
            out[key] = catalog.AUTO_DEFAULTS[key]
    return out


def _training_type(body: dict[str, Any], flavor: Flavor, base: str) -> None:
    """Where the service needs a training type with every create (Azure), refuse a create without one
    the way the service does — misleadingly, about the model — or with one the model does not have."""
    types = flavor.profile.training_types
    if types is None:
        return
    given = body.get("trainingType")
    if given is None:
        raise _bad("The specified base model does not support fine-tuning.", "model", "model_not_available")
    if given not in types.get(base, frozenset({given})):
        raise _bad(f"The training type {given} is not available for {base}.", "trainingType")


def validate_create(body: Any, get_file: Any, flavor: Flavor = OPENAI,
                    trained_here: Callable[[str], bool] = lambda model: False) -> dict[str, Any]:
    """Check ``body``; return the request with model, method and seed resolved (epochs not yet).
    ``trained_here(model)`` says whether a fine-tuned model (``ft:…``) exists: one the sandbox made."""
    if not isinstance(body, dict):
        raise _bad("The request body must be a JSON object.", None, "invalid_type")
    unknown = sorted(set(body) - CREATE_FIELDS - set(flavor.extra_create_fields))
    if unknown:
        raise _bad(f"Unrecognized request argument supplied: {unknown[0]}", unknown[0], "unknown_parameter")
    for key, allowed in flavor.extra_create_fields.items():
        if key in body and (not isinstance(body[key], str) or body[key] not in allowed):
            raise _bad(f"{key} must be one of {', '.join(allowed)}, not {body[key]!r}.", key)
    parse(CreateJob, body)
    model = body.get("model")
    if not isinstance(model, str) or not model:
        raise _bad("Missing required parameter: 'model'.", "model", "missing_required_parameter")
    if catalog.is_fine_tuned(model) and not trained_here(model):
        raise ApiError(404, f"The model `{model}` does not exist or you do not have access to it.", "model",
                       "model_not_found")
    resolved = catalog.resolve_model(model)
    info = catalog.model_info(resolved)
    offered = flavor.profile.offers(catalog.base_of(resolved))
    if info is None or offered == frozenset():
        raise _bad(f"Model {model} is not available for fine-tuning or does not exist.", "model",
                   "model_not_available")
    _training_type(body, flavor, catalog.base_of(resolved))
    for key in ("training_file", "validation_file"):
        value = body.get(key)
        if value is None and key == "validation_file":
            continue
        if not isinstance(value, str):
            raise _bad(f"Missing required parameter: '{key}'.", key, "missing_required_parameter")
        found = get_file(value)
        if found is None:
            raise _bad(f"invalid {key}: {value}", key, "invalid_file")
        if found["purpose"] != "fine-tune":
            raise _bad(f"File {value} has purpose '{found['purpose']}'; fine-tuning needs purpose 'fine-tune'.",
                       key, "invalid_file_purpose")
    suffix = body.get("suffix")
    if suffix is not None and not flavor.profile.suffix_supported:
        raise _bad("The suffix parameter is not supported.", "suffix", "unsupported_parameter")
    if suffix is not None and (not isinstance(suffix, str) or not 1 <= len(suffix) <= flavor.suffix_max):
        raise _bad(f"suffix must be a string of 1 to {flavor.suffix_max} characters.", "suffix")
    chars = flavor.profile.suffix_chars
    if suffix is not None and chars is not None and not re.fullmatch(chars, suffix):
        raise _bad("suffix may hold only letters, digits, '-' and '_'.", "suffix")
    seed = body.get("seed")
    if seed is None:
        seed = secrets.randbelow(MAX_SEED + 1)
    elif isinstance(seed, bool) or not isinstance(seed, int) or not 0 <= seed <= MAX_SEED:
        raise _bad(f"seed must be an integer between 0 and {MAX_SEED}.", "seed")
    kind, hyper, grader = _method(body, flavor)
    if kind not in (offered if offered is not None else info.methods):
        raise _bad(f"Model {resolved} does not support the {kind} method.", "method.type", "unsupported_method")
    return {
        "model": resolved,
        "training_file": body["training_file"],
        "validation_file": body.get("validation_file"),
        "suffix": suffix,
        "seed": seed,
        "metadata": check_metadata(body.get("metadata")),
        "integrations": _check_integrations(body.get("integrations")),
        "method_type": kind,
        "hyperparameters_sent": hyper,
        "grader": grader,
        "chat": info.chat,
    }
