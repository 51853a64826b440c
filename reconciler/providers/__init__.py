"""Provider profiles (SPEC §7, §12): what differs between OpenAI, Azure OpenAI, AWS Bedrock, OPEA's
finetuning service and compatible services, one small module each; ``detect`` picks one from the API
base URL: an Azure host, or a path ending in ``/openai/v1`` (a custom domain or a gateway in front of
Azure OpenAI, SPEC §12), is Azure; api.openai.com is OpenAI; ``bedrock-mantle.REGION.api.aws`` is
Bedrock; anything else is a compatible service (OPEA's service runs on any host: ``--provider opea``).
"""

from __future__ import annotations

from urllib.parse import urlsplit

from reconciler.providers.azure import AZURE
from reconciler.providers.base import ErrorKind, Provider
from reconciler.providers.bedrock import BEDROCK, is_bedrock_host
from reconciler.providers.compatible import COMPATIBLE
from reconciler.providers.opea import OPEA
from reconciler.providers.openai import OPENAI

PROVIDERS = {p.name: p for p in (OPENAI, AZURE, BEDROCK, OPEA, COMPATIBLE)}
AZURE_HOSTS = (".openai.azure.com", ".cognitiveservices.azure.com", ".services.ai.azure.com")


def detect(api_base: str) -> Provider:
    parts = urlsplit(api_base)
    host = parts.hostname or ""
    if host.endswith(AZURE_HOSTS) or parts.path.rstrip("/").endswith(AZURE.base_path):
        return AZURE
    if is_bedrock_host(host):
        return BEDROCK
    return OPENAI if host == "api.openai.com" else COMPATIBLE


__all__ = ["AZURE", "BEDROCK", "COMPATIBLE", "OPEA", "OPENAI", "PROVIDERS", "ErrorKind", "Provider", "detect"]
