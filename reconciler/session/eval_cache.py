"""What evaluations have already found, kept under ``<project>/.ftctl/cache/`` (SPEC §11).

Three kinds of entry, each a JSON file named by the sha256 of what determines it: a completion by
(model, messages, sampling), a grade by (grader, answer, item), and an evaluation's report by (the
trained model, the eval section, the eval file's bytes). An unchanged rerun therefore sends no
request, a run interrupted (or failing half-way under faults) redoes nothing it finished, and
``plan`` reads a gate's verdict from the report without sending anything. Each file is written to
a temporary name beside it and renamed: a reader sees a whole entry or none, and threads writing
the same entry write the same bytes. A file that cannot be parsed is treated as absent.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import tempfile
from pathlib import Path
from typing import Any

CACHE_DIR = Path(".ftctl") / "cache"


def digest(*parts: Any) -> str:
    """The sha256 of ``parts`` as canonical JSON (sorted keys, no spaces)."""
    text = json.dumps(parts, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str)
    return hashlib.sha256(text.encode()).hexdigest()


class Cache:
    def __init__(self, root: Path) -> None:
        self.root = root
        self.folder = root / CACHE_DIR

    def _path(self, kind: str, key: str) -> Path:
        return self.folder / kind / key[:2] / f"{key}.json"

    def get(self, kind: str, key: str) -> Any:
        """The entry, or None when there is none (or it is unreadable)."""
        try:
            return json.loads(self._path(kind, key).read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return None

    def put(self, kind: str, key: str, value: Any) -> None:
        path = self._path(kind, key)
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, temp = tempfile.mkstemp(dir=path.parent, prefix=".", suffix=".tmp")
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as out:
                json.dump(value, out, sort_keys=True, ensure_ascii=False)
            os.replace(temp, path)
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(temp)
            raise

    # the three kinds, by what determines them
    def completion_key(self, model: str, messages: list[dict[str, Any]], params: dict[str, Any]) -> str:
        return digest("completion", model, messages, params)

    def grade_key(self, grader: dict[str, Any], text: str, item: dict[str, Any]) -> str:
        return digest("grade", grader, text, item)

    def report_key(self, model: str, section: dict[str, Any], file_sha256: str) -> str:
        return digest("report", model, section, file_sha256)
