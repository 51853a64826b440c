"""What ftctl and its sandbox know about fine-tunable models and OpenAI's defaults.

One table serves both sides: the sandbox resolves aliases and refuses unsupported methods the way
the real API does, and ``plan`` estimates tokens and epochs with the same rules. Prices live apart,
in a dated data file that users can override (``reconciler.datasets.pricing``).
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType


@dataclass(frozen=True)
class ModelInfo:
    snapshot: str
    methods: frozenset[str]
    """The methods OpenAI trains it with (another provider's profile says what it offers)."""
    context: int  # tokens per training example
    chat: bool = True  # False: prompt/completion format
    open_weight: bool = False
    """An open-weight model, trained by other providers than OpenAI (Azure OpenAI's Foundry, AWS Bedrock)."""


CATALOG_AS_OF = "2025-08-01"
"""When the table below was last checked against OpenAI's list of fine-tunable models."""

_ALL = frozenset({"supervised", "dpo"})
MODELS: dict[str, ModelInfo] = {
    m.snapshot: m
    for m in (
        ModelInfo("gpt-4o-mini-2024-07-18", _ALL, 65_536),
        ModelInfo("gpt-4o-2024-08-06", _ALL, 65_536),
        ModelInfo("gpt-4.1-2025-04-14", _ALL, 65_536),
        ModelInfo("gpt-4.1-mini-2025-04-14", _ALL, 65_536),
        ModelInfo("gpt-4.1-nano-2025-04-14", _ALL, 65_536),
        ModelInfo("gpt-3.5-turbo-0125", frozenset({"supervised"}), 16_385),
        ModelInfo("o4-mini-2025-04-16", frozenset({"reinforcement"}), 65_536),
        ModelInfo("babbage-002", frozenset({"supervised"}), 16_384, chat=False),
        ModelInfo("davinci-002", frozenset({"supervised"}), 16_384, chat=False),
        # Open-weight models, as Azure OpenAI (Foundry resources) names them in its list of models it
        # fine-tunes (learn.microsoft.com, fine-tune-supported-models, 2026-03-05); context assumed.
        ModelInfo("Ministral-3B", frozenset({"supervised"}), 32_768, open_weight=True),
        ModelInfo("Qwen-32B", frozenset({"supervised"}), 32_768, open_weight=True),
        ModelInfo("Llama-3.3-70B-Instruct", frozenset({"supervised"}), 32_768, open_weight=True),
        ModelInfo("gpt-oss-20b", frozenset({"supervised", "reinforcement"}), 32_768, open_weight=True),
        # As AWS Bedrock names Qwen 3 32B (its fine-tuning API's model ID is UNCONFIRMED: providers/bedrock.py).
        ModelInfo("Qwen3-32B", frozenset({"supervised", "reinforcement"}), 32_768, open_weight=True),
    )
}
OPEN_WEIGHT = frozenset(m.snapshot for m in MODELS.values() if m.open_weight)
ALIASES = {
    # Azure OpenAI's names of the same base models
    "gpt-35-turbo-0125": "gpt-3.5-turbo-0125",
    "gpt-35-turbo": "gpt-3.5-turbo-0125",
    "gpt-4o-mini": "gpt-4o-mini-2024-07-18",
    "gpt-4o": "gpt-4o-2024-08-06",
    "gpt-4.1": "gpt-4.1-2025-04-14",
    "gpt-4.1-mini": "gpt-4.1-mini-2025-04-14",
    "gpt-4.1-nano": "gpt-4.1-nano-2025-04-14",
    "gpt-3.5-turbo": "gpt-3.5-turbo-0125",
    "o4-mini": "o4-mini-2025-04-16",
}

GRADER_MODELS = frozenset({
    "o1", "o1-2024-12-17", "o3", "o3-2025-04-16", "o3-mini", "o3-mini-2025-01-31",
    "gpt-4o-2024-11-20", "gpt-4o-mini-2024-07-18", "gpt-4.1-2025-04-14"})
"""Models a score_model or label_model grader may name beyond the fine-tunable ones above and their
aliases: reasoning and chat models OpenAI offers for grading (as of ``CATALOG_AS_OF``)."""


REASONING = re.compile(r"^(o\d+(-|$)|gpt-5)")
"""Reasoning models by name: the o-series (o1, o3, o4-mini, …) and the gpt-5 family. The chat API
refuses them a ``temperature`` other than 1, ``top_p`` and ``max_tokens`` (``max_completion_tokens``
instead)."""

EMBEDDING_MODELS: Mapping[str, int] = MappingProxyType({
    "text-embedding-3-small": 1536, "text-embedding-3-large": 3072, "text-embedding-ada-002": 1536})
"""Embedding models (a text_similarity grader's cosine uses one), each with its default dimensions;
the text-embedding-3 models also take fewer (``dimensions``), ada-002 does not."""


def is_reasoning(name: str) -> bool:
    """Whether ``name`` (an alias, snapshot or fine-tuned model) is a reasoning model."""
    return bool(REASONING.match(base_of(name)))


def known_grader_model(name: str) -> bool:
    return name in GRADER_MODELS or name in ALIASES or base_of(name) in MODELS


HASH_ALIASES_V1: Mapping[str, str] = MappingProxyType({
    "gpt-4o-mini": "gpt-4o-mini-2024-07-18", "gpt-4o": "gpt-4o-2024-08-06", "gpt-4.1": "gpt-4.1-2025-04-14",
    "gpt-4.1-mini": "gpt-4.1-mini-2025-04-14", "gpt-4.1-nano": "gpt-4.1-nano-2025-04-14",
    "gpt-3.5-turbo": "gpt-3.5-turbo-0125", "o4-mini": "o4-mini-2025-04-16"})
"""The aliases the v1 spec hash resolves, frozen. An alias added to ``ALIASES`` later must not
change the hash of a manifest that already uses that name: its job would be replaced on upgrade."""


def hash_model(name: str) -> str:
    """The model as the v1 spec hash has it: a v1 alias resolved, any other name as written."""
    return HASH_ALIASES_V1.get(name, name)


def resolve_model(name: str) -> str:
    """Alias → dated snapshot; a fine-tuned model (``ft:BASE:…``) or an unknown name is returned as is."""
    return ALIASES.get(name, name)


def model_info(name: str) -> ModelInfo | None:
    """Facts about ``name``; a fine-tuned model inherits those of its base."""
    return MODELS.get(base_of(name))


AZURE_FINE_TUNED = re.compile(r"^(?P<base>.+?)\.ft-[0-9a-f]{6,}(?:[-:].*)?$")
"""Azure OpenAI's name of a fine-tuned model: ``BASE.ft-ID`` (a checkpoint's adds to it)."""


def base_of(name: str) -> str:
    """The model a name stands for: an alias resolved, a fine-tuned model's root base (OpenAI's
    ``ft:BASE:…``, Azure's ``BASE.ft-ID``)."""
    name = resolve_model(name)
    if name.startswith("ft:") and name.count(":") >= 1:
        return resolve_model(name.split(":")[1])
    azure = AZURE_FINE_TUNED.match(name)
    return resolve_model(azure.group("base")) if azure else name




def is_fine_tuned(name: str) -> bool:
    """Whether ``name`` is a fine-tuned model (of OpenAI's or Azure's form) rather than a base model."""
    return base_of(name) != resolve_model(name)


def models_for(method: str) -> list[str]:
    """Snapshots OpenAI fine-tunes with ``method``."""
    return [m.snapshot for m in MODELS.values() if method in m.methods and not m.open_weight]


def _distance(a: str, b: str) -> int:
    """Edit distance counting a swap of two neighbours as one edit (optimal string alignment)."""
    prev2: list[int] = []
    prev = list(range(len(b) + 1))
    for i, ca in enumerate(a, 1):
        row = [i]
        for j, cb in enumerate(b, 1):
            cost = min(prev[j] + 1, row[j - 1] + 1, prev[j - 1] + (ca != cb))
            if i > 1 and j > 1 and ca == b[j - 2] and a[i - 2] == cb:
                cost = min(cost, prev2[j - 2] + 1)
            row.append(cost)
        prev2, prev = prev, row
    return prev[-1]


def closest(name: str) -> str | None:
    """A catalog name (snapshot or alias) within two edits of ``name`` (letter case aside), or that
    ``name`` is a cut-off start of, for a "did you mean"."""
    lowered = name.lower()
    names = (*MODELS, *ALIASES)
    found = [(d, known) for known in names if (d := _distance(lowered, known)) <= 2]
    if found:
        return min(found)[1]
    longer = sorted(known for known in MODELS if len(lowered) >= 5 and known.startswith(lowered))
    return longer[0] if longer else None


# OpenAI's rule for n_epochs "auto": aim at 3 epochs, but at least 100 and at most 25,000
# example-passes in all, within 1..25 epochs.
TARGET_EPOCHS = 3
MIN_TARGET_EXAMPLES = 100
MAX_TARGET_EXAMPLES = 25_000
MIN_DEFAULT_EPOCHS = 1
MAX_DEFAULT_EPOCHS = 25


def auto_epochs(examples: int) -> int:
    n = TARGET_EPOCHS
    if examples <= 0:
        return n
    if examples * n < MIN_TARGET_EXAMPLES:
        n = min(MAX_DEFAULT_EPOCHS, math.ceil(MIN_TARGET_EXAMPLES / examples))
    elif examples * n > MAX_TARGET_EXAMPLES:
        n = max(MIN_DEFAULT_EPOCHS, MAX_TARGET_EXAMPLES // examples)
    return n


def auto_batch_size(examples: int) -> int:
    """About 0.2% of the examples, within 1..256."""
    return max(1, min(256, math.ceil(examples * 0.002)))


AUTO_DEFAULTS: dict[str, float | int | str] = {
    "learning_rate_multiplier": 1.8,
    "beta": 0.1,
    "compute_multiplier": 1.0,
    "eval_interval": 1,
    "eval_samples": 1,
}
