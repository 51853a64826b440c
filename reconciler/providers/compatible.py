"""Any other OpenAI-compatible service (a gateway, a self-hosted server, the embedded sandbox).

OpenAI's shapes, and ftctl trusts less: statuses of both OpenAI and Azure are understood, a list
that refuses the metadata filter is read whole (the client falls back), and what such a service
drops from a create is caught by the tag round-trip check after each create.
"""

from __future__ import annotations

from reconciler.providers.azure import AZURE
from reconciler.providers.base import Provider
from reconciler.providers.openai import OPENAI

COMPATIBLE = Provider(
    name="compatible",
    title="the compatible service",
    statuses=OPENAI.statuses | AZURE.statuses,
    error_kinds={**OPENAI.error_kinds, **AZURE.error_kinds},
)
