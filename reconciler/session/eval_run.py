"""Sampling and grading the items of one evaluation, through the cache.

Each (model, item) pair is one task on a pool of ``parallelism`` threads: its completion is read
from the cache or asked for (``Models.chat``, retried under the one retry policy by ``Completions``)
and cached at once; its grade likewise (``engine.grade``). A completion that fails for good scores
0 with the failure as its error and is not cached, so that a rerun asks again; a grade during which
a model call of the grader failed is not cached either (the engine reports that as the grader's
error, but it says nothing about the answer). Everything finished is kept: an interrupted run
resumes where it stopped, and an unchanged rerun sends nothing.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from reconciler.datasets.formats import eval_item
from reconciler.evals import engine
from reconciler.evals.model import Models, Sample, Score
from reconciler.manifests.graders import AnyGrader
from reconciler.project import relative
from reconciler.session.eval_cache import Cache
from reconciler.session.eval_report import Graded
from reconciler.session.settings import SetupError


@dataclass(frozen=True)
class Item:
    line: int
    item: dict[str, Any]
    """The item as its grader sees it (``{{item.*}}``): its fields, its prompt under ``messages``, and
    ``reference`` from a supervised-format line's answer."""

    @property
    def messages(self) -> list[dict[str, Any]]:
        return list(self.item.get("messages") or [])

    @property
    def prompt(self) -> str:
        """The last user message, as text."""
        for message in reversed(self.messages):
            if message.get("role") == "user":
                content = message.get("content")
                if isinstance(content, list):
                    return " ".join(str(p.get("text", "")) for p in content if isinstance(p, dict))
                return str(content or "")
        return ""


def read_items(path: Path, root: Path, limit: int | None = None) -> list[Item]:
    """The eval file's items (checked before by ``datasets``), the first ``limit`` of them."""
    return list(iter_items(path, root, limit))


def iter_items(path: Path, root: Path, limit: int | None = None) -> Iterator[Item]:
    """The eval file's items one at a time, read line by line: an estimate over a file of any size holds
    one item at a time (the file is never read whole)."""
    count = 0
    try:
        with path.open(encoding="utf-8") as lines:
            for number, line in enumerate(lines, 1):
                if not line.strip():
                    continue
                if limit is not None and count >= limit:
                    return
                try:
                    obj = json.loads(line)
                except ValueError as exc:
                    raise SetupError(f"{relative(path, root)}:{number}: not JSON: {exc}") from None
                if not isinstance(obj, dict):
                    raise SetupError(f"{relative(path, root)}:{number}: not a JSON object")
                count += 1
                yield Item(number, eval_item(obj))
    except (OSError, UnicodeDecodeError) as exc:
        raise SetupError(f"{relative(path, root)}: cannot read: {exc}") from None


def score_json(score: Score) -> dict[str, Any]:
    return {"value": score.value, "error": score.error, "parts": {k: score_json(v) for k, v in score.parts.items()}}


def score_of(data: Mapping[str, Any]) -> Score:
    parts = data.get("parts") or {}
    return Score(float(data["value"]), data.get("error"), {k: score_of(v) for k, v in parts.items()})


class _Watched:
    """``Models`` that notes, per thread, whether a call failed (then the grade is not cached)."""

    def __init__(self, models: Models) -> None:
        self.models = models
        self.local = threading.local()

    def _call(self, fn: Callable[[], Any]) -> Any:
        try:
            return fn()
        except BaseException:
            self.local.failed = True
            raise

    def chat(self, model: str, messages: list[dict[str, Any]], params: Mapping[str, Any]) -> str:
        return str(self._call(lambda: self.models.chat(model, messages, params)))

    def embed(self, model: str, texts: list[str]) -> list[list[float]]:
        result: list[list[float]] = self._call(lambda: self.models.embed(model, texts))
        return result


@dataclass
class Runner:
    """Samples and grades items with one grader and sampling, through ``cache``."""

    grader: AnyGrader
    grader_key: dict[str, Any]
    """What determines a grade beside the answer and the item: the grader and its python code."""
    sampling: dict[str, Any]
    cache: Cache
    manifest_dir: Path
    graders_models: Models
    """The target's models, for the grader's own model calls (score_model, label_model, cosine)."""
    parallelism: int = 4
    progress: Callable[[], None] = lambda: None

    def run(self, tasks: list[tuple[Models, str, Item]]) -> list[Graded]:
        """Each (models, model, item) sampled and graded, in the order given."""
        watched = _Watched(self.graders_models)
        pool = ThreadPoolExecutor(max_workers=max(1, self.parallelism), thread_name_prefix="ftctl-eval")
        try:
            futures = [pool.submit(self._one, watched, *task) for task in tasks]
            return [f.result() for f in futures]
        except BaseException:  # Ctrl-C: what is in flight finishes (and is cached), nothing more starts
            pool.shutdown(wait=True, cancel_futures=True)
            raise
        finally:
            pool.shutdown(wait=False)

    def _one(self, watched: _Watched, models: Models, model: str, item: Item) -> Graded:
        try:
            answer = self._answer(models, model, item)
        except Exception as exc:  # the completion failed for good: 0 for this item, asked again next run
            self.progress()
            return Graded(item.line, item.prompt, "", Score(0.0, error=f"completion failed: {exc}"), answered=False)
        score = self._grade(watched, answer, item)
        self.progress()
        return Graded(item.line, item.prompt, answer, score)

    def _answer(self, models: Models, model: str, item: Item) -> str:
        key = self.cache.completion_key(model, item.messages, self.sampling)
        cached = self.cache.get("completions", key)
        if isinstance(cached, dict) and isinstance(cached.get("text"), str):
            return str(cached["text"])
        text = models.chat(model, item.messages, self.sampling)
        self.cache.put("completions", key, {"model": model, "text": text})
        return text

    def _grade(self, watched: _Watched, answer: str, item: Item) -> Score:
        key = self.cache.grade_key(self.grader_key, answer, item.item)
        cached = self.cache.get("grades", key)
        if isinstance(cached, dict) and "value" in cached:
            return score_of(cached)
        watched.local.failed = False
        try:
            score = engine.grade(self.grader, item.item, Sample.of(answer), watched, manifest_dir=self.manifest_dir)
        except Exception as exc:  # the engine promises not to raise; a bug in it is still one item's error
            return Score(0.0, error=f"grader failed: {type(exc).__name__}: {exc}")
        if not watched.local.failed:
            self.cache.put("grades", key, score_json(score))
        return score
