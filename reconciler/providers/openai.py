"""OpenAI (``https://api.openai.com/v1``): the reference the others are described against."""

from __future__ import annotations

from reconciler import catalog
from reconciler.providers.base import Provider

OPENAI = Provider(
    name="openai",
    title="OpenAI",
    models={m.snapshot: m.methods for m in catalog.MODELS.values() if not m.open_weight},
    example_base="https://api.openai.com/v1",
    error_kinds={
        "daily_rate_limit_exceeded": "quota",  # creates per day
        "fine_tuning_job_limit_exceeded": "quota",  # active jobs per organization
        "rate_limit_exceeded": "rate_limit",
        "invalid_status_for_cancel": "conflict", "invalid_status_for_pause": "conflict",
        "invalid_status_for_resume": "conflict",
        "invalid_training_file": "invalid", "invalid_validation_file": "invalid", "model_not_available": "invalid",
    },
)
