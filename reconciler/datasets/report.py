"""What one pass over a data file found: its examples and tokens, and its problems, grouped.

A file of a million lines with the same mistake on each is one message with its first few line
numbers and a count, not a million lines of output; at most ``MAX_LISTED`` distinct problems are
listed, the rest counted.
"""

from __future__ import annotations

from dataclasses import dataclass, field

MAX_LISTED = 20
"""Distinct problems listed per file; the rest are counted."""
SHOWN_LINES = 3
"""Line numbers given for a problem that repeats."""


@dataclass
class Problem:
    """One kind of problem in a file: where it is first, a few more lines, and how often."""

    line: int
    message: str
    lines: list[int] = field(default_factory=list)
    count: int = 1

    def text(self) -> str:
        if self.count == 1:
            return self.message
        more = f" and {self.count - len(self.lines):,} more" if self.count > len(self.lines) else ""
        return f"lines {', '.join(map(str, self.lines))}{more}: {self.message}"


class _Problems:
    """Identical problems grouped, so twelve lines missing one field are one message, not twelve."""

    def __init__(self) -> None:
        self.by_message: dict[str, Problem] = {}
        self.count = 0

    def add(self, line: int, message: str) -> None:
        self.count += 1
        found = self.by_message.get(message)
        if found is not None:
            found.count += 1
            if len(found.lines) < SHOWN_LINES:
                found.lines.append(line)
        elif len(self.by_message) < MAX_LISTED:
            self.by_message[message] = Problem(line, message, [line])

    @property
    def listed(self) -> list[Problem]:
        return list(self.by_message.values())

    @property
    def unlisted(self) -> int:
        return self.count - sum(p.count for p in self.by_message.values())


@dataclass
class Report:
    """What one pass over a file found."""

    format: str
    examples: int = 0
    tokens: int = 0  # exact when a tokenizer was given, else estimated from characters
    longest: int = 0  # tokens of the longest example
    looks_like: dict[str, int] = field(default_factory=dict)
    """Lines refused that are written for another method's format (``written_for``), by that format."""
    _errors: _Problems = field(default_factory=_Problems)
    _warnings: _Problems = field(default_factory=_Problems)

    def error(self, line: int, message: str) -> None:
        self._errors.add(line, message)

    def warn(self, line: int, message: str) -> None:
        self._warnings.add(line, message)

    @property
    def errors(self) -> list[Problem]:
        return self._errors.listed

    @property
    def warnings(self) -> list[Problem]:
        return self._warnings.listed

    @property
    def error_count(self) -> int:
        return self._errors.count

    @property
    def warning_count(self) -> int:
        return self._warnings.count

    @property
    def unlisted_errors(self) -> int:
        return self._errors.unlisted

    @property
    def unlisted_warnings(self) -> int:
        return self._warnings.unlisted

    @property
    def ok(self) -> bool:
        return self.error_count == 0


def first_error(report: Report) -> str:
    if not report.errors:
        return ""
    p = report.errors[0]
    return f"line {p.line}: {p.message}" if p.line else p.message
