"""Exact token counts with tiktoken when its encoding is on this machine, else none (estimate).

tiktoken downloads encodings on first use; ftctl must work offline, so it only loads an encoding
that is already in tiktoken's cache folder (the CLI's settings find it as tiktoken does:
``TIKTOKEN_CACHE_DIR``, ``DATA_GYM_CACHE_DIR`` or the temp folder) and never triggers a download.
"""

from __future__ import annotations

import hashlib
import tempfile
from collections.abc import Mapping
from functools import cache
from pathlib import Path

from reconciler.datasets.formats import Counter

ENCODING = "o200k_base"
_BLOB = f"https://openaipublic.blob.core.windows.net/encodings/{ENCODING}.tiktoken"


def cache_folder(env: Mapping[str, str]) -> Path:
    """Where tiktoken keeps its encodings, read from ``env`` the way tiktoken reads it."""
    return Path(env.get("TIKTOKEN_CACHE_DIR") or env.get("DATA_GYM_CACHE_DIR")
                or Path(tempfile.gettempdir()) / "data-gym-cache")


@cache
def exact_counter(folder: Path | None) -> Counter | None:
    """A function text → token count, or None when no encoding can be loaded offline from ``folder``
    (None: estimate, do not even try)."""
    if folder is None or not (folder / hashlib.sha1(_BLOB.encode()).hexdigest()).is_file():
        return None
    try:
        import tiktoken

        encoding = tiktoken.get_encoding(ENCODING)
    except Exception:  # not installed, or a broken cache: fall back to the labelled estimate
        return None

    def count(text: str) -> int:
        return len(encoding.encode_ordinary(text))

    return count
