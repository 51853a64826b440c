"""Streaming checks of JSONL training data against the format each method expects.

One pass, one line in memory at a time, so a 1 GB file costs no more memory than a 1 KB one. Used
by ``ftctl validate``/``plan`` (before any money is spent) and by the sandbox (which fails a job
whose file does not fit, as the real service does).

Formats (OpenAI's fine-tuning guide):

* ``chat`` (supervised): ``{"messages": [...]}`` with known roles, at least one assistant message,
  optional ``weight`` 0/1 on assistant messages, optional ``tools``/``functions``;
* ``completion`` (babbage-002, davinci-002): ``{"prompt": str, "completion": str}``;
* ``preference`` (dpo): ``{"input": {"messages": [...]}, "preferred_output": [assistant],
  "non_preferred_output": [assistant]}``;
* ``reinforcement``: ``{"messages": [... ending with a user message]}`` plus the fields that the
  grader reads as ``{{item.FIELD}}``.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

MIN_EXAMPLES = 10
MAX_LISTED = 20
ROLES = {"system", "developer", "user", "assistant", "tool", "function"}


@dataclass
class Problem:
    line: int
    message: str


@dataclass
class Report:
    """What one pass over a file found."""

    format: str
    examples: int = 0
    errors: list[Problem] = field(default_factory=list)
    error_count: int = 0
    warnings: list[Problem] = field(default_factory=list)
    warning_count: int = 0
    chars: int = 0  # characters of message text, for the token estimate
    longest: int = 0  # characters of the longest example
    common_keys: set[str] | None = None  # top-level keys present in every example

    def error(self, line: int, message: str) -> None:
        self.error_count += 1
        if len(self.errors) < MAX_LISTED:
            self.errors.append(Problem(line, message))

    def warn(self, line: int, message: str) -> None:
        self.warning_count += 1
        if len(self.warnings) < MAX_LISTED:
            self.warnings.append(Problem(line, message))

    @property
    def ok(self) -> bool:
        return self.error_count == 0


def format_for(method: str, chat_model: bool = True) -> str:
    if method == "dpo":
        return "preference"
    if method == "reinforcement":
        return "reinforcement"
    return "chat" if chat_model else "completion"


def _text_len(content: Any) -> int:
    if isinstance(content, str):
        return len(content)
    if isinstance(content, list):
        return sum(len(part.get("text", "")) for part in content if isinstance(part, dict))
    return 0


def _check_messages(messages: Any, where: str, report: Report, line: int) -> tuple[int, set[str]] | None:
    """Check a message list; return (text length, roles seen) or None after reporting an error."""
    if not isinstance(messages, list) or not messages:
        report.error(line, f"{where} must be a non-empty list of messages")
        return None
    size, roles = 0, set()
    for i, msg in enumerate(messages):
        if not isinstance(msg, dict):
            report.error(line, f"{where}[{i}] must be an object")
            return None
        role = msg.get("role")
        if role not in ROLES:
            report.error(line, f"{where}[{i}].role {role!r} is not one of {', '.join(sorted(ROLES))}")
            return None
        content = msg.get("content")
        has_calls = bool(msg.get("tool_calls") or msg.get("function_call"))
        if content is None and not (role == "assistant" and has_calls):
            report.error(line, f"{where}[{i}] ({role}) has no content")
            return None
        if content is not None and not isinstance(content, str | list):
            report.error(line, f"{where}[{i}].content must be a string or a list of parts")
            return None
        if "weight" in msg:
            if role != "assistant":
                report.error(line, f"{where}[{i}].weight is only allowed on assistant messages")
                return None
            if msg["weight"] not in (0, 1) or isinstance(msg["weight"], bool):
                report.error(line, f"{where}[{i}].weight must be 0 or 1")
                return None
        roles.add(role)
        size += _text_len(content)
    return size, roles


def _check_example(obj: Any, fmt: str, report: Report, line: int) -> int | None:
    """Check one example; return its text length, or None when it has an error."""
    if not isinstance(obj, dict):
        report.error(line, "each line must be a JSON object")
        return None
    if fmt == "completion":
        if not isinstance(obj.get("prompt"), str) or not isinstance(obj.get("completion"), str):
            report.error(line, 'completion format needs string "prompt" and "completion"')
            return None
        return len(obj["prompt"]) + len(obj["completion"])
    if fmt == "preference":
        inp = obj.get("input")
        if not isinstance(inp, dict) or "messages" not in inp:
            report.error(line, 'preference format needs "input": {"messages": [...]}')
            return None
        checked = _check_messages(inp["messages"], "input.messages", report, line)
        if checked is None:
            return None
        size = checked[0]
        for key in ("preferred_output", "non_preferred_output"):
            out = obj.get(key)
            if not isinstance(out, list) or len(out) != 1:
                report.error(line, f"{key} must be a list of exactly one assistant message")
                return None
            got = _check_messages(out, key, report, line)
            if got is None:
                return None
            if got[1] != {"assistant"}:
                report.error(line, f"{key} must be an assistant message")
                return None
            size += got[0]
        return size
    checked = _check_messages(obj.get("messages"), "messages", report, line)
    if checked is None:
        return None
    size, roles = checked
    if fmt == "chat":
        if "assistant" not in roles:
            report.error(line, "no assistant message: nothing to learn from this example")
            return None
        if not roles & {"system", "developer"}:
            report.warn(line, "no system message")
    elif fmt == "reinforcement" and obj["messages"][-1].get("role") != "user":
        report.error(line, "the last message must be a user message (the model answers it)")
        return None
    return size


def check_lines(lines: Iterable[bytes], fmt: str, context_tokens: int | None = None) -> Report:
    """Check JSONL ``lines`` (bytes, as read from a binary file) against ``fmt``."""
    report = Report(fmt)
    for number, raw in enumerate(lines, start=1):
        if not raw.strip():
            continue
        try:
            obj = json.loads(raw)
        except (ValueError, UnicodeDecodeError) as exc:
            report.error(number, f"not valid JSON: {exc}")
            continue
        size = _check_example(obj, fmt, report, number)
        if size is None:
            continue
        report.examples += 1
        report.chars += size
        report.longest = max(report.longest, size)
        keys = set(obj)
        report.common_keys = keys if report.common_keys is None else report.common_keys & keys
        if context_tokens is not None and size // 4 > context_tokens:
            report.warn(number, f"about {size // 4} tokens, over the model's {context_tokens}: truncated")
    if report.examples < MIN_EXAMPLES and report.error_count == 0:
        report.error(0, f"{report.examples} example(s); at least {MIN_EXAMPLES} are required")
    return report


def check_bytes(data: bytes, fmt: str) -> Report:
    return check_lines(data.splitlines(), fmt)


def first_error(report: Report) -> str:
    if not report.errors:
        return ""
    p = report.errors[0]
    return f"line {p.line}: {p.message}" if p.line else p.message


def dumps_example(obj: Any) -> bytes:
    return json.dumps(obj, ensure_ascii=False).encode() + b"\n"
