"""What the grader engine takes and gives: an answer (``Sample``), its ``Score``, and the ``Models``
port through which model graders and the cosine metric reach a model.

A score is a number; a grader that cannot score (a python grader that raised or returned a string, a
model grader whose answer did not parse) gives ``value`` 0 with ``error`` set: errors count as 0 in
a mean, as OpenAI's graders do, and a report shows how many there were. A multi grader's score
carries the score of each of its graders under the name ``calculate_output`` uses. An error is
user code's or an API's words: the keys ftctl knows (and their starts, as a masked quote shows them)
are redacted from it as the score is made, before it is shown or cached.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

from reconciler.logs import redact_text


@dataclass(frozen=True)
class Sample:
    """One answer of the model graded: ``{{sample.output_text}}``, and ``{{sample.output_json.*}}``
    when the text is a JSON object."""

    output_text: str
    output_json: Any = None

    @classmethod
    def of(cls, text: str) -> Sample:
        try:
            parsed = json.loads(text)
        except ValueError:
            parsed = None
        return cls(text, parsed if isinstance(parsed, dict) else None)


@dataclass(frozen=True)
class Score:
    value: float
    error: str | None = None
    """Why the grader could not score (the value is then 0)."""
    parts: Mapping[str, Score] = field(default_factory=dict)
    """A multi grader's scores of its graders, by their names in calculate_output."""

    def __post_init__(self) -> None:
        if self.error is not None:
            object.__setattr__(self, "error", redact_text(self.error))


class Models(Protocol):
    """The target's models, as the engine needs them (``reconciler.api.completions`` over HTTP; fakes
    in tests). Each raises an exception on failure; the engine turns it into the grader's error."""

    def chat(self, model: str, messages: list[dict[str, Any]], params: Mapping[str, Any]) -> str:
        """The text of the first choice of a chat completion (``params``: sampling, response_format)."""
        ...

    def embed(self, model: str, texts: list[str]) -> list[list[float]]:
        """One embedding per text, in order."""
        ...
