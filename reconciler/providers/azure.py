"""Azure OpenAI's v1 API (``https://RESOURCE.openai.azure.com/openai/v1``).

As the service behaves (its published v1 description, kept under tests/, lists less: see there):
the key in an ``api-key`` header; no metadata filter on the job list (ftctl reads the list and
filters it itself); jobs start ``pending`` and pass through ``pausing`` and ``resuming``; a suffix of
at most 40 characters of letters, digits, ``-`` and ``_`` (no dots); no python grader;
``trainingType`` on every create (a manifest's ``provider_options.azure.training_type``, else
ftctl.yaml's ``target.azure.training_type``); files sent in one request with ``expires_after``;
camelCase error codes; one running job and 20 queued per resource; reinforcement jobs paused by the
service at a $5,000 cost ceiling; fine-tuned models named ``BASE.ft-ID``.

What it trains (learn.microsoft.com, Foundry "fine-tune supported models", 2026-03-05): gpt-4o-mini
with supervised fine-tuning, gpt-4o and the gpt-4.1 family with supervised and DPO, o4-mini with
reinforcement, and four open-weight models with supervised fine-tuning on Foundry resources, global
training only (of the types ftctl names).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Literal, get_args

from reconciler.providers.base import Provider
from reconciler.providers.statuses import AZURE_STATUSES

_SFT, _DPO, _RFT = frozenset({"supervised"}), frozenset({"supervised", "dpo"}), frozenset({"reinforcement"})
MODELS = {
    "gpt-4o-mini-2024-07-18": _SFT, "gpt-4o-2024-08-06": _DPO, "gpt-4.1-2025-04-14": _DPO,
    "gpt-4.1-mini-2025-04-14": _DPO, "gpt-4.1-nano-2025-04-14": _DPO, "o4-mini-2025-04-16": _RFT,
    "Ministral-3B": _SFT, "Qwen-32B": _SFT, "Llama-3.3-70B-Instruct": _SFT, "gpt-oss-20b": _SFT,
}
_ALL_TYPES = frozenset({"globalstandard", "standard", "developer"})
_NOT_DEVELOPER = frozenset({"globalstandard", "standard"})
_GLOBAL = frozenset({"globalstandard"})
TRAINING_TYPES_BY_MODEL = {
    "gpt-4o-mini-2024-07-18": _ALL_TYPES, "gpt-4o-2024-08-06": _ALL_TYPES, "gpt-4.1-2025-04-14": _ALL_TYPES,
    "gpt-4.1-mini-2025-04-14": _ALL_TYPES, "gpt-4.1-nano-2025-04-14": _ALL_TYPES, "o4-mini-2025-04-16": _NOT_DEVELOPER,
    "Ministral-3B": _GLOBAL, "Qwen-32B": _GLOBAL, "Llama-3.3-70B-Instruct": _GLOBAL, "gpt-oss-20b": _GLOBAL,
}
"""Open-weight models train globally only; o4-mini has no developer tier (of the types ftctl names)."""

TrainingType = Literal["globalstandard", "standard", "developer"]
TRAINING_TYPES: tuple[str, ...] = get_args(TrainingType)


def _create_fields(options: Mapping[str, Any]) -> dict[str, Any]:
    azure = options.get("azure") or {}
    return {"trainingType": azure["training_type"]} if azure.get("training_type") else {}


AZURE = Provider(
    name="azure",
    title="Azure OpenAI",
    models=MODELS,
    training_types=TRAINING_TYPES_BY_MODEL,
    suffix_chars=r"[A-Za-z0-9_-]+",
    active_limit=21,
    active_limit_reason="Azure OpenAI's limit per resource (1 running, 20 queued)",
    ceiling_pauses=frozenset({"reinforcement"}),
    key_header="api-key",
    metadata_filter=False,
    statuses=AZURE_STATUSES,
    suffix_max=40,
    graders=frozenset({"string_check", "text_similarity", "score_model", "multi", "label_model"}),
    base_path="/openai/v1",
    example_base="https://RESOURCE.openai.azure.com/openai/v1",
    file_parts=False,
    file_expiry_seconds=30 * 24 * 3600,
    error_kinds={
        "quotaExceeded": "quota",
        "tooManyRequests": "rate_limit",
        "unexpectedEntityState": "conflict",
        "invalidPayload": "invalid",
        "jsonlValidationFailed": "invalid",
        "notFound": "not_found",
    },
    create_fields=_create_fields,
)
