"""Which models the sandbox serves (chat completions, embeddings) and what each one has learnt.

A base model is served when the flavour's service offers it (``flavor.profile.models``; OpenAI's
catalog where a profile takes any model), under its snapshot or an alias, and so are the models a
score_model or label_model grader may name (``catalog.GRADER_MODELS``); embedding models only on
the embeddings route. A fine-tuned model is served once a job of this sandbox that produced it has
succeeded: its ``fine_tuned_model`` and each of its checkpoints (``…:ckpt-step-N``).

What a model knows is a list of ``Source``s, the training files it learnt from, most specific first:
its own job's file — all of it for the final model, the first ``step / total_steps`` of its lines
for a checkpoint, so that a checkpoint is measurably worse than the model it leads to — then,
for a model trained from a fine-tuned model (a pipeline), everything its upstream knew. A base model
knows nothing. Anything else is unknown: the routes answer 404 ``model_not_found``.
"""

from __future__ import annotations

from dataclasses import dataclass

from reconciler import catalog
from reconciler.sandbox.flavor import Flavor
from reconciler.sandbox.lifecycle import Job
from reconciler.sandbox.store import Store

CHECKPOINT = ":ckpt-step-"


@dataclass(frozen=True)
class Source:
    file_id: str
    fraction: float
    """How much of the file (its first lines) the model saw: 1.0 but for a checkpoint."""


@dataclass(frozen=True)
class Served:
    name: str
    """As the API names it back: an alias resolved to its snapshot, a fine-tuned model as asked."""
    sources: tuple[Source, ...] = ()
    """Most specific first; empty for a base model."""
    reasoning: bool = False


def chat_bases(flavor: Flavor) -> frozenset[str]:
    """The base models this flavour serves chat completions for (snapshots; aliases resolve to them)."""
    offered = flavor.profile.models
    snapshots = set(offered) if offered is not None else {
        m.snapshot for m in catalog.MODELS.values() if not m.open_weight}
    return frozenset(snapshots | catalog.GRADER_MODELS)


def find_chat(store: Store, flavor: Flavor, name: str) -> Served | None:
    """The chat model ``name`` stands for on this sandbox now, or None when it serves no such model."""
    if catalog.is_fine_tuned(name):
        return find_fine_tuned(store, name)
    resolved = catalog.resolve_model(name)
    if name in catalog.EMBEDDING_MODELS or resolved not in chat_bases(flavor):
        return None
    return Served(resolved, reasoning=catalog.is_reasoning(resolved))


def find_fine_tuned(store: Store, name: str) -> Served | None:
    """A fine-tuned model or checkpoint that a succeeded job of this sandbox produced, or None."""
    tail = name.split(CHECKPOINT)[0][-8:]  # ft:…:ID8, or Azure's BASE.ft-ID: the end of the job's ID
    now = store.now()
    for job in store.jobs_ending_with(tail):
        if job.status(now) != "succeeded":
            continue
        fraction = _fraction(job, name, now)
        if fraction is None:
            continue
        upstream = find_fine_tuned(store, job.request["model"]) if catalog.is_fine_tuned(job.request["model"]) \
            else None
        own = Source(job.request["training_file"], fraction)
        return Served(name, (own, *(upstream.sources if upstream else ())), catalog.is_reasoning(name))
    return None


def _fraction(job: Job, name: str, now: float) -> float | None:
    """How much of its training data ``name`` saw: 1.0 for the job's model, ``step / total`` for one of
    its checkpoints, None when the job did not produce ``name``."""
    if name == job.fine_tuned_model():
        return 1.0
    for checkpoint in job.checkpoints(now):
        if checkpoint["fine_tuned_model_checkpoint"] == name:
            return min(1.0, int(checkpoint["step_number"]) / job.total_steps)
    return None
