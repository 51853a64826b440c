"""``ftctl.yaml``: the project's settings (SPEC §8), read with the manifests' strictness.

Found at the project root (the nearest directory holding it, walking up); never read as a manifest.
Paths in it are relative to its own directory, so every command works the same from any
subdirectory. It is checked like a manifest — unknown keys (with a "did you mean"), wrong types and
duplicate keys are errors naming the file, line and field — and a key in it is refused: keys come
from the environment only. Precedence: flag > environment > ftctl.yaml > default.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Annotated, Literal

from pydantic import AfterValidator, Field, ValidationError, field_validator

from reconciler.api.urls import check_base_url
from reconciler.diagnostics import Diagnostic, InputError, display_path
from reconciler.lifecycle import Table as LifecycleTable
from reconciler.manifests.errors import diagnostics_from_validation
from reconciler.manifests.model import NAME_PATTERN
from reconciler.manifests.strict import Strict
from reconciler.manifests.yamlsrc import YamlError, load_documents
from reconciler.project import CONFIG_NAME
from reconciler.providers.azure import TrainingType

SECRET_KEY = re.compile(r"(api[-_]?key|token|secret|password)", re.IGNORECASE)
SECRET_MESSAGE = ("secrets are never kept in ftctl.yaml: set them in the environment (the API key: "
                  "OPENAI_API_KEY or AZURE_OPENAI_API_KEY)")


def _url(value: str) -> str:
    if not re.match(r"^https?://[^/\s]+", value):
        raise ValueError(f"{value!r} must be an http:// or https:// URL, such as https://acme.openai.azure.com/openai/v1")
    problem = check_base_url(value)
    if problem:
        raise ValueError(f"{value!r}: {problem}")
    return value


class AzureTarget(Strict):
    training_type: TrainingType | None = None
    """Sent as ``trainingType`` with every create on Azure OpenAI, unless a manifest gives its own
    (``provider_options.azure.training_type``)."""


class Target(Strict):
    provider: Literal["openai", "azure", "bedrock", "opea", "compatible"] | None = None
    """openai, azure, bedrock, opea or compatible; left out, it follows api_base (*.openai.azure.com and the
    like: azure; api.openai.com: openai; bedrock-mantle.REGION.api.aws: bedrock; anything else: compatible).
    --provider and FTCTL_PROVIDER win over it."""
    api_base: Annotated[str, AfterValidator(_url)] | None = None
    """The API's base URL, e.g. https://acme.openai.azure.com/openai/v1 (plain http:// to loopback hosts only).
    --api-base and OPENAI_BASE_URL win over it; the key comes from the environment."""
    azure: AzureTarget = AzureTarget()
    """Settings of an Azure OpenAI target."""


class Limits(Strict):
    max_active_jobs: Annotated[int, Field(ge=1)] | None = None
    """apply keeps at most this many of the stack's jobs active, creating the rest as others finish
    (FTCTL_MAX_ACTIVE_JOBS and --max-active-jobs win over it)."""
    max_cost_usd: Annotated[float, Field(ge=0, allow_inf_nan=False)] | None = None
    """The budget in US dollars: plan marks, and apply refuses, a plan whose new training is estimated to cost
    more (--allow-over-budget overrides it for one run)."""


class Config(Strict):
    stack: Annotated[str, Field(pattern=NAME_PATTERN)] | None = None
    """The stack: ftctl only touches jobs tagged with it (default: default). --stack and FTCTL_STACK win over it."""
    paths: Annotated[list[Annotated[str, Field(min_length=1)]], Field(min_length=1)] | None = None
    """Where the manifests are, relative to this file (one path or a list): read by validate, plan, apply and status
    when no PATHS are given."""
    target: Target = Target()
    """The API to reconcile against when no --api-base or --sandbox is given."""
    limits: Limits = Limits()
    """What apply may start and spend."""
    lifecycle: LifecycleTable | None = None
    """Dates added to ftctl's lifecycle table or replacing its own, by provider: ``{providers: {azure:
    {models: {gpt-4o-mini: {training_ends: {date: 2027-09-01, source: our agreement}}}}}}``."""

    @field_validator("paths", mode="before")
    @classmethod
    def _one_path(cls, value: object) -> object:
        return [value] if isinstance(value, str) else value  # "paths: manifests" is one path


def _secrets(data: object, path: tuple[str, ...] = ()) -> list[tuple[str, ...]]:
    if isinstance(data, dict):
        found = [(*path, str(k)) for k in data if SECRET_KEY.search(str(k))]
        return found + [p for k, v in data.items() for p in _secrets(v, (*path, str(k)))]
    return []


def _without_secrets(data: object) -> object:
    if isinstance(data, dict):
        return {k: _without_secrets(v) for k, v in data.items() if not SECRET_KEY.search(str(k))}
    return data


def load_config(root: Path) -> tuple[Config, Path | None]:
    """The config at ``root`` (an empty one when there is none), and its path."""
    path = root / CONFIG_NAME
    if not path.is_file():
        return Config(), None
    shown = display_path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError([Diagnostic(shown, 0, "", f"cannot read the project config: {exc}")]) from None
    documents = list(load_documents(text))
    if not documents:
        return Config(), path
    doc = documents[0]
    if isinstance(doc, YamlError):
        raise InputError([Diagnostic(shown, doc.line, ".".join(map(str, doc.path)), doc.message)])
    if len(documents) > 1:
        raise InputError([Diagnostic(shown, documents[1].line, "", "the project config is one YAML document, not "
                                     "several (remove this second one)")])
    if not isinstance(doc.data, dict):
        raise InputError([Diagnostic(shown, doc.line, "", "the project config must be a mapping of settings")])
    problems = [Diagnostic(shown, doc.line_of(p), ".".join(p), SECRET_MESSAGE) for p in _secrets(doc.data)]
    try:  # the rest is checked too, so that one run reports every mistake of the file
        config = Config.model_validate(_without_secrets(doc.data))
    except ValidationError as exc:
        raise InputError(problems + diagnostics_from_validation(exc, doc, shown, model=Config)) from None
    if problems:
        raise InputError(problems)
    missing = [Diagnostic(shown, doc.line_of(("paths", i)), "paths", f"{p!r}: no such file or directory "
                          f"(paths are relative to {CONFIG_NAME}'s directory)")
               for i, p in enumerate(config.paths or []) if not (path.parent / p).exists()]
    if missing:
        raise InputError(missing)
    return config, path
