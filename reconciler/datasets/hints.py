"""Data written for another method: one hint at the manifest, not a riddle on every line.

A new user's likeliest data mistake is a file in the right shape for the wrong method: preference
pairs in a supervised manifest, chat transcripts in a DPO one, prompts awaiting a grader in either.
Each line then fails its own format's check ("messages must be a non-empty list" says nothing of
DPO). So a line that fails is also asked which format it *is* written for (``written_for``), from
its top-level keys and its last message only; when more of a file's lines are written for another
method than fit its own, the manifest's line (``method.type`` where it is written, else the file's
field) names the format the data looks like and the ``method.type`` that takes it.

Only the three chat methods are told apart: a completion model's format (prompt, completion) is a
matter of the model, not of ``method.type``.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from reconciler.datasets.report import Report
from reconciler.diagnostics import Diagnostic, display_path

if TYPE_CHECKING:
    from reconciler.manifests.loaded import LoadedManifest

LOOKS_LIKE = {
    "preference": "preference (DPO) data",
    "chat": "supervised chat data (its examples end with an assistant answer)",
    "reinforcement": "reinforcement data (its examples end with a user message for the model to answer)",
}
"""What a file written for each format is called in a hint."""
METHOD_OF = {"preference": "dpo", "chat": "supervised", "reinforcement": "reinforcement"}


def written_for(obj: Any) -> str | None:
    """The format an example's shape says it was written for: ``preference`` (``input`` and the two
    outputs, no ``messages``), ``chat`` (messages ending with an assistant answer) or ``reinforcement``
    (messages ending with a user message, no assistant answer); None when it says none of them."""
    if not isinstance(obj, dict):
        return None
    if "messages" not in obj and "input" in obj and ("preferred_output" in obj or "non_preferred_output" in obj):
        return "preference"
    messages = obj.get("messages")
    if "input" in obj or type(messages) is not list or not messages or type(messages[-1]) is not dict:
        return None
    last = messages[-1].get("role")
    if last == "assistant":
        return "chat"
    if last == "user" and not any(type(m) is dict and m.get("role") == "assistant" for m in messages):
        return "reinforcement"
    return None


def other_format(obj: dict[str, Any], fmt: str) -> str | None:
    """The problem of an example whose top level is another format's altogether (preference data
    where messages are expected, or the reverse), or None: said so, instead of the first key missing."""
    if fmt in ("chat", "reinforcement") and written_for(obj) == "preference":
        return ('preference (DPO) data: "input", "preferred_output" and "non_preferred_output" where the '
                f'{fmt} format has "messages"')
    if fmt == "preference" and "input" not in obj and "messages" in obj:
        return ('"messages" where the preference format has "input": {"messages": [...]}, "preferred_output" and '
                '"non_preferred_output"')
    return None


def count_written_for(obj: Any, fmt: str, report: Report) -> None:
    """Count a refused example that is written for another method's format."""
    shape = written_for(obj) if fmt in METHOD_OF else None
    if shape is not None and shape != fmt:
        report.looks_like[shape] = report.looks_like.get(shape, 0) + 1


def likely_format(report: Report) -> str | None:
    """The other format a file is written for: the one more of its lines are written for than fit its
    own (a stray line is a mistake in the file, not the wrong method); None when there is none."""
    if not report.looks_like:
        return None
    shape, lines = max(report.looks_like.items(), key=lambda item: item[1])
    return shape if lines > report.examples else None


def _advice(shape: str, method: str) -> str:
    target = METHOD_OF[shape]
    text = f"set method.type: {target}"
    if target == "supervised":
        text += " (or leave method.type out)"
    elif target == "reinforcement":
        text += ", with a method.grader"
    return text + (" and remove method.grader" if method == "reinforcement" else "")


def method_hint(loaded: LoadedManifest, key: str, path: Path, shape: str) -> Diagnostic:
    """The manifest's line for a file (``key``) written for another method's format ``shape``."""
    method, data = loaded.manifest.method.type, display_path(path)
    advice = _advice(shape, method)
    if ("method", "type") in loaded.lines:
        shown, line = loaded.where(("method", "type"))
        return Diagnostic(shown, line, "method.type", f"{method}, but {key} {data} looks like {LOOKS_LIKE[shape]}: "
                                                      f"{advice}")
    shown, line = loaded.where((key,))
    return Diagnostic(shown, line, key, f"{data} looks like {LOOKS_LIKE[shape]}, and method.type is {method} (the "
                                        f"default): {advice}")
