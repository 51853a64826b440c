"""Diagnostics: every problem ftctl reports about user input, as ``PATH:LINE: FIELD: message``."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

FieldPath = tuple[str | int, ...]
"""Where a value is in a manifest (or a request): keys and list indexes, ``("integrations", 0, "wandb")``.
Paths stay tuples everywhere; ``dotted`` is the one way they are written for people."""


def dotted(path: FieldPath) -> str:
    """``("integrations", 0, "wandb", "project")`` → ``integrations[0].wandb.project``."""
    out = ""
    for part in path:
        index = isinstance(part, int) and not isinstance(part, bool)
        out += f"[{part}]" if index else (f".{part}" if out else str(part))
    return out


def display_path(path: Path) -> str:
    """The path as the user would type it: relative to the working directory when inside it."""
    text = os.fspath(path)
    if not os.path.isabs(text):  # relative already: relpath would come to its normal form, the long way
        normal = os.path.normpath(text)
        if normal != ".." and not normal.startswith(".." + os.sep):
            return normal
    try:
        return os.path.relpath(path)
    except ValueError:  # another drive on Windows
        return str(path)


def plural(n: int, word: str, many: str | None = None) -> str:
    """``1 error``, ``2 errors``, ``1,024 examples``: counts that read naturally."""
    return f"{n:,} {word if n == 1 else (many or word + 's')}"


@dataclass(frozen=True, order=True)
class Diagnostic:
    file: str
    line: int
    field: str
    message: str
    severity: str = "error"

    def __str__(self) -> str:
        where = f"{self.file}:{self.line}" if self.line else self.file
        prefix = f"{where}: {self.field}: " if self.field else f"{where}: "
        tag = "warning: " if self.severity == "warning" else ""
        return _one_line(f"{prefix}{tag}{self.message}")


def _one_line(text: str, limit: int = 2_000) -> str:
    """A message as one line: control characters from user input shown escaped (a value cannot fake
    another line of output), and a huge value cut."""
    text = "".join(c if c.isprintable() or c == " " else repr(c)[1:-1] for c in text)
    return text if len(text) <= limit else text[:limit] + f"… ({len(text) - limit:,} more characters)"


class InputError(Exception):
    """Raised with every diagnostic of a run; the CLI prints them and exits 1."""

    def __init__(self, diagnostics: list[Diagnostic]) -> None:
        super().__init__("\n".join(str(d) for d in diagnostics))
        self.diagnostics = diagnostics


def to_json(diagnostics: list[Diagnostic]) -> list[dict[str, object]]:
    return [{"file": d.file, "line": d.line or None, "field": d.field or None, "message": d.message,
             "severity": d.severity} for d in diagnostics]


def _escape(text: str, property_value: bool = False) -> str:
    text = text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")
    return text.replace(":", "%3A").replace(",", "%2C") if property_value else text


def to_github(d: Diagnostic, root: Path | None = None) -> str:
    """A GitHub Actions workflow command: the problem shows on the pull request's line (GitHub wants
    the path from the repository's root)."""
    file = d.file if root is None else os.path.relpath(os.path.abspath(d.file), root).replace(os.sep, "/")
    props = [f"file={_escape(file, True)}"]
    if d.line:
        props.append(f"line={d.line}")
    if d.field:
        props.append(f"title={_escape(d.field, True)}")
    return f"::{d.severity} {','.join(props)}::{_escape(d.message)}"


class SetupError(Exception):
    """A problem with options or environment, explained to the user (exit 1)."""


class UsageProblem(SetupError):
    """Options that contradict each other: shown as a usage error."""
