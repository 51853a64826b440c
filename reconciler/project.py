"""The project root, and paths relative to it.

Everything a plan records about local files is relative to the project root, so that a plan made
in one directory applies from any other directory of the same project (and from another clone).
The root is the directory of ``ftctl.yaml``, else the nearest directory holding ``.git``, else the
directory ftctl was started in (SPEC §4).
"""

from __future__ import annotations

import os
from pathlib import Path, PurePosixPath

CONFIG_NAME = "ftctl.yaml"


def find_root(start: Path | None = None) -> Path:
    start = (start or Path.cwd()).resolve()
    chain = (start, *start.parents)
    for marker in (CONFIG_NAME, ".git"):
        for candidate in chain:
            if (candidate / marker).exists():
                return candidate
    return start


def relative(path: Path, root: Path) -> str:
    """``path`` as a POSIX path relative to ``root``; absolute when it lies outside the root."""
    resolved = path.resolve()
    try:
        return PurePosixPath(resolved.relative_to(root.resolve())).as_posix()
    except ValueError:
        return resolved.as_posix()


def absolute(path: str, root: Path) -> Path:
    """The inverse of ``relative``."""
    return Path(path) if os.path.isabs(path) else root / path
