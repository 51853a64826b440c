"""What a sandbox model answers, deterministically: a fine-tuned model recalls its training data, a
base model knows nothing of it.

A question is the text of the last user message of a chat. A fine-tuned model compares it with the
last user message of each training line it learnt from (``served.Source``: its own lines first, then
its upstream's) by the Jaccard similarity of their word sets (lower-cased ``\\w+`` words), and answers
with the assistant reply of the most similar line; of equally similar lines the first wins. The reply
of a supervised line is its last assistant message, of a DPO line its ``preferred_output``, of a
prompt/completion line its completion; a reinforcement line has none and teaches nothing. When no line
shares a word with the question (or the model learnt nothing: a base model), the answer is
``GENERIC``. So a model fine-tuned on a support set answers that set's questions with its answers,
which a grader scores above the base model's — the demo's "fine-tune beats base".

Training files never change once uploaded, so each file is parsed once per process (``lessons``,
keyed by its path) and a thousand requests cost a thousand set intersections per line, no I/O.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

GENERIC = "I'm not sure. Could you tell me more?"
"""A base model's answer to anything (and a fine-tuned one's to what it never saw)."""
_WORD = re.compile(r"\w+")


@dataclass(frozen=True)
class Lesson:
    """One training line as a model remembers it: the words of its question and its answer."""

    words: frozenset[str]
    answer: str


def words(text: str) -> frozenset[str]:
    return frozenset(_WORD.findall(text.lower()))


def text_of(content: Any) -> str:
    """A message's text: a string, or the ``text`` of its parts."""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return " ".join(str(part.get("text", "")) for part in content if isinstance(part, dict))
    return ""


def last_user_text(messages: Sequence[Any]) -> str:
    users = [m for m in messages if isinstance(m, dict) and m.get("role") == "user"]
    return text_of(users[-1].get("content")) if users else ""


def _lesson(line: Any) -> Lesson | None:
    """The question and answer of a training line of any format, or None (no answer, or not a line)."""
    if not isinstance(line, dict):
        return None
    if isinstance(line.get("prompt"), str) and isinstance(line.get("completion"), str):
        return Lesson(words(line["prompt"]), line["completion"])
    if isinstance(line.get("input"), dict):  # DPO: the preferred output answers
        preferred = line.get("preferred_output")
        replies = [m for m in preferred if isinstance(m, dict)] if isinstance(preferred, list) else []
        messages = line["input"].get("messages")
        if not replies or not isinstance(messages, list):
            return None
        return Lesson(words(last_user_text(messages)), text_of(replies[-1].get("content")))
    messages = line.get("messages")
    if not isinstance(messages, list):
        return None
    last_user = max((i for i, m in enumerate(messages) if isinstance(m, dict) and m.get("role") == "user"),
                    default=-1)
    replies = [m for m in messages[last_user + 1:] if isinstance(m, dict) and m.get("role") == "assistant"]
    if last_user < 0 or not replies:  # a reinforcement line: a prompt, no answer
        return None
    return Lesson(words(text_of(messages[last_user].get("content"))), text_of(replies[-1].get("content")))


@lru_cache(maxsize=256)
def lessons(path: Path) -> tuple[tuple[Lesson | None, ...], int]:
    """Every line of a training file as a lesson (None where it teaches nothing), and the line count.
    A file that is gone (deleted after training) teaches nothing."""
    try:
        raw = path.read_bytes().splitlines()
    except FileNotFoundError:
        return (), 0
    out: list[Lesson | None] = []
    for line in raw:
        if not line.strip():
            continue
        try:
            out.append(_lesson(json.loads(line)))
        except ValueError:
            out.append(None)
    return tuple(out), len(out)


def recall(files: Sequence[tuple[Path, float]], question: str) -> str:
    """The answer of a model that learnt the first ``fraction`` of each file's lines, in that order."""
    asked = words(question)
    best, best_score = GENERIC, 0.0
    if not asked:
        return best
    for path, fraction in files:
        lines, count = lessons(path)
        for lesson in lines[:math.ceil(count * fraction)]:
            if lesson is None or not lesson.words:
                continue
            score = len(asked & lesson.words) / len(asked | lesson.words)
            if score > best_score:
                best, best_score = lesson.answer, score
    return best
