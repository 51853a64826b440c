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


def find_root(start: Path | None = None, here: Path | None = None) -> Path:
    """The project root seen from ``start``; ``here`` (default: the current directory) is the
    directory ftctl was started in, the root when no marker is found."""
    start = (start or Path.cwd()).resolve()
    chain = (start, *start.parents)
    for marker in (CONFIG_NAME, ".git"):
        for candidate in chain:
            if (candidate / marker).exists():
                return candidate
    return (here or Path.cwd()).resolve()


def relative(path: Path, root: Path) -> str:
    """``path`` as a POSIX path relative to ``root`` (as written where it can be: a symlink stays a
    symlink), else resolved; absolute when it lies outside the root."""
    base = root.resolve()
    for candidate in (Path(os.path.abspath(path)), path.resolve()):
        try:
            return PurePosixPath(candidate.relative_to(base)).as_posix()
        except ValueError:
            continue
    return path.resolve().as_posix()


def absolute(path: str, root: Path) -> Path:
    """The inverse of ``relative``."""
    return Path(path) if os.path.isabs(path) else root / path
