"""The spec hash and the identity tags (SPEC §2).

The spec hash is a versioned digest of the canonical create request (``CreateRequest.hashed()``).
It is the users' state: changing how it is computed replaces every job of every user on upgrade.
Bump ``SPEC_VERSION`` only as a deliberate decision; a test pins known hashes.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

from reconciler.api.models import TAG_NAME, TAG_SPEC, TAG_STACK

SPEC_VERSION = "v1"


def spec_hash(canonical: dict[str, Any]) -> str:
    text = json.dumps(canonical, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return f"{SPEC_VERSION}-{hashlib.sha256(text.encode()).hexdigest()[:32]}"


def tags(stack: str, name: str, spec: str) -> dict[str, str]:
    return {TAG_STACK: stack, TAG_NAME: name, TAG_SPEC: spec}
