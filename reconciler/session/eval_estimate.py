"""What an evaluation will send and cost, before it sends anything (``eval --dry-run``, and the plan's
evaluate step): per model sampled, one chat completion per item, plus one per answer for each model
grader (score_model, label_model) of the grader tree; prompt tokens counted as the datasets count
them (tiktoken's encoding when it is on this machine, else the labelled estimate from characters)
with OpenAI's chat overhead of 3 tokens per message and 3 per reply; answers at most
``sampling.max_completion_tokens`` each, else an assumed ``ASSUMED_ANSWER_TOKENS``. Dollars from the
price table's inference prices (a fine-tuned model at its base's fine-tuned price). A model grader
(score_model, label_model) is asked once per answer: its prompt is counted as its messages' text as
written (templates unfilled) plus the answer at its longest, and its own answer at most its
``max_completions_tokens``, else the same assumed length, at the grader model's price.
"""

from __future__ import annotations

from collections.abc import Iterable

from reconciler import catalog
from reconciler.datasets.formats import Counter, estimate_tokens
from reconciler.datasets.pricing import Prices
from reconciler.manifests import LoadedManifest
from reconciler.manifests.graders import LabelModelGrader, ScoreModelGrader, walk
from reconciler.plan.model import EvalEstimate
from reconciler.session.eval_run import Item

ASSUMED_ANSWER_TOKENS = 256
"""The length of an answer assumed when sampling sets no max_completion_tokens."""
PER_MESSAGE, PER_REPLY = 3, 3


def prompt_tokens(item: Item, count: Counter | None) -> int:
    counted = count or estimate_tokens
    total = PER_REPLY
    for message in item.messages:
        content = message.get("content")
        text = content if isinstance(content, str) else " ".join(
            str(p.get("text", "")) for p in content or [] if isinstance(p, dict))
        total += PER_MESSAGE + counted(text)
    return total


def estimate(m: LoadedManifest, items: Iterable[Item], trained: str, baseline: str | None, prices: Prices,
             count: Counter | None) -> EvalEstimate:
    """The estimate of ``m``'s evaluation of ``trained`` (and ``baseline``) on ``items``, read once (a
    stream: an eval file of any size is counted one item at a time)."""
    assert m.manifest.eval is not None
    e = m.manifest.eval
    models = [trained] + ([baseline] if baseline is not None else [])
    judges = [g for _, g in walk(e.grader, ("eval", "grader")) if isinstance(g, ScoreModelGrader | LabelModelGrader)]
    per_answer = e.sampling.max_completion_tokens
    n = prompt = 0
    for item in items:
        n, prompt = n + 1, prompt + prompt_tokens(item, count)
    answers = n * (per_answer or ASSUMED_ANSWER_TOKENS)
    costs = {model: prices.answer_cost(model, prompt, answers) for model in models}
    judged = n * len(models)  # answers each model grader is asked about
    judge_prompt = judge_answers = 0
    for g in judges:
        asked = judged * (sum(PER_MESSAGE + (count or estimate_tokens)(_text(i.content)) for i in g.input)
                          + PER_REPLY + (per_answer or ASSUMED_ANSWER_TOKENS))
        limit = g.sampling_params.max_completions_tokens if isinstance(g, ScoreModelGrader) and \
            g.sampling_params is not None else None
        said = judged * (limit or ASSUMED_ANSWER_TOKENS)
        judge_prompt, judge_answers = judge_prompt + asked, judge_answers + said
        costs[f"{g.model} (grader)"] = prices.answer_cost(g.model, asked, said)
    unpriced = [model for model, cost in costs.items() if cost is None]
    return EvalEstimate(
        items=n, models=len(models), requests=n * len(models) * (1 + len(judges)),
        prompt_tokens=prompt * len(models) + judge_prompt, completion_tokens=answers * len(models) + judge_answers,
        answer_tokens_assumed=None if per_answer else ASSUMED_ANSWER_TOKENS, exact=count is not None,
        cost=None if unpriced else sum(c for c in costs.values() if c is not None), unpriced=unpriced,
        currency=prices.currency)


def _text(content: object) -> str:
    """A grader message's text as written: a string, or the text of its input_text/output_text items."""
    if isinstance(content, str):
        return content
    parts = content if isinstance(content, list) else [content]
    return " ".join(str(getattr(p, "text", "")) for p in parts)


def models_before_training(m: LoadedManifest) -> tuple[str, str | None]:
    """The trained and baseline models as far as the manifests tell, before any job is read: a
    stand-in ``ft:ROOT`` for a model fine-tuned from ROOT (priced as such)."""
    assert m.manifest.eval is not None
    root = catalog.resolve_model(m.model or "unknown")
    base = f"ft:{root}" if m.manifest.upstream is not None else root
    choice = m.manifest.eval.baseline
    return f"ft:{root}", {"base": base, "none": None}.get(choice, choice)
