"""Exact token counts with tiktoken when its encoding is on this machine, else none (estimate).

tiktoken downloads encodings on first use; ftctl must work offline, so it only loads an encoding
that is already in tiktoken's cache (``TIKTOKEN_CACHE_DIR``, ``DATA_GYM_CACHE_DIR`` or the temp
folder) and never triggers a download.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
from functools import cache
from pathlib import Path

from reconciler.datasets.formats import Counter

ENCODING = "o200k_base"
_BLOB = f"https://openaipublic.blob.core.windows.net/encodings/{ENCODING}.tiktoken"


def _cached_encoding_file() -> Path:
    folder = os.environ.get("TIKTOKEN_CACHE_DIR") or os.environ.get("DATA_GYM_CACHE_DIR") or str(
        Path(tempfile.gettempdir()) / "data-gym-cache")
    return Path(folder) / hashlib.sha1(_BLOB.encode()).hexdigest()


@cache
def exact_counter() -> Counter | None:
    """A function text → token count, or None when no encoding can be loaded offline."""
    if os.environ.get("FTCTL_TOKENS") == "estimate" or not _cached_encoding_file().is_file():
        return None
    try:
        import tiktoken

        encoding = tiktoken.get_encoding(ENCODING)
    except Exception:  # not installed, or a broken cache: fall back to the labelled estimate
        return None

    def count(text: str) -> int:
        return len(encoding.encode_ordinary(text))

    return count
