"""Provider profiles (SPEC §7): what differs between OpenAI, Azure OpenAI and compatible services,
one small module each; ``detect`` picks one from the API base URL."""

from __future__ import annotations

from urllib.parse import urlsplit

from reconciler.providers.azure import AZURE
from reconciler.providers.base import ErrorKind, Provider
from reconciler.providers.compatible import COMPATIBLE
from reconciler.providers.openai import OPENAI

PROVIDERS = {p.name: p for p in (OPENAI, AZURE, COMPATIBLE)}
AZURE_HOSTS = (".openai.azure.com", ".cognitiveservices.azure.com", ".services.ai.azure.com")
ALL_STATUSES = frozenset().union(*(p.statuses for p in PROVIDERS.values()))
"""Every status ftctl understands: any other is shown as it is and never acted on."""


def detect(api_base: str) -> Provider:
    host = urlsplit(api_base).hostname or ""
    if host.endswith(AZURE_HOSTS):
        return AZURE
    return OPENAI if host == "api.openai.com" else COMPATIBLE


__all__ = ["ALL_STATUSES", "AZURE", "COMPATIBLE", "OPENAI", "PROVIDERS", "ErrorKind", "Provider", "detect"]
