"""Azure OpenAI's v1 API (``https://RESOURCE.openai.azure.com/openai/v1``).

As the service behaves (its published v1 description, kept under tests/, lists less: see there):
the key in an ``api-key`` header; no metadata filter on the job list (ftctl reads the list and
filters it itself); jobs start ``pending`` and pass through ``pausing`` and ``resuming``; a suffix of
at most 40 characters; no python grader; ``trainingType`` on create (a manifest's
``provider_options.azure.training_type``); files sent in one request with ``expires_after``; and
camelCase error codes.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Literal, get_args

from reconciler.providers.base import Provider
from reconciler.providers.statuses import AZURE_STATUSES

TrainingType = Literal["globalstandard", "standard", "developer"]
TRAINING_TYPES: tuple[str, ...] = get_args(TrainingType)


def _create_fields(options: Mapping[str, Any]) -> dict[str, Any]:
    azure = options.get("azure") or {}
    return {"trainingType": azure["training_type"]} if azure.get("training_type") else {}


AZURE = Provider(
    name="azure",
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
