"""The project root, and paths relative to it.

Everything a plan records about local files is relative to the project root, so that a plan made
in one directory applies from any other directory of the same project (and from another clone).
The root is the directory of ``ftctl.yaml``, else the nearest directory holding ``.git``, else the
directory ftctl was started in (SPEC §4).
"""

from __future__ import annotations

import functools
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
    base = _resolved(root)
    written, prefix = os.path.abspath(path), _prefix(base)
    if written.startswith(prefix):  # as strings: a thousand manifests name three thousand paths
        return PurePosixPath(written[len(prefix):]).as_posix()
    if written == str(base):
        return "."
    resolved = path.resolve()  # only when the path as written is not under the root
    try:
        return PurePosixPath(resolved.relative_to(base)).as_posix()
    except ValueError:
        return resolved.as_posix()


@functools.lru_cache(maxsize=16)
def _prefix(base: Path) -> str:
    """What every path inside ``base`` starts with, as a string (``/`` itself ends with a separator)."""
    text = str(base)
    return text if text.endswith(os.sep) else text + os.sep


@functools.lru_cache(maxsize=16)
def _resolved(root: Path) -> Path:
    """The project root, resolved once per run rather than once per file (a thousand manifests name
    three thousand paths)."""
    return root.resolve()


def absolute(path: str, root: Path) -> Path:
    """The inverse of ``relative``."""
    return Path(path) if os.path.isabs(path) else root / path
