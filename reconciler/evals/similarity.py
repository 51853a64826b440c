"""The text_similarity metrics, computed with the libraries the graders guide names or implies.

The guide says what each metric is (fuzzy_match "using rapidfuzz", BLEU, Google BLEU, METEOR, ROUGE,
cosine of ``text-embedding-3-large`` embeddings) and not how it is configured. The choices here:

* fuzzy_match: ``rapidfuzz.fuzz.WRatio`` with ``utils.default_process`` (lower case, punctuation and
  surrounding spaces removed), divided by 100 — the one rapidfuzz call the guide shows, in its python
  grader example of fuzzy grading.
* Tokens for bleu, gleu and meteor: words and single punctuation marks (``\\w+|[^\\w\\s]``), case kept,
  so that no tokenizer data (NLTK's punkt) is needed.
* bleu: NLTK ``sentence_bleu`` over n-grams up to ``min(4, len(input), len(reference))`` with equal
  weights, so that a short answer identical to its reference scores 1 (plain 4-gram BLEU gives a
  one-word answer 0), and Chen & Cherry's smoothing ``method1`` (a count of 0 becomes 0.1), so that one
  missing n-gram order does not zero the score. The reference is the only reference.
* gleu: NLTK ``sentence_gleu`` (n-grams 1 to 4), as documented.
* meteor: NLTK ``meteor_score`` with its exact and Porter-stem stages and *no synonym stage*: the
  synonyms come from WordNet, a corpus that would have to be downloaded at run time. A synonym pair
  thus counts as a miss; otherwise the score is NLTK's (alpha 0.9, beta 3, gamma 0.5).
* rouge_1 … rouge_5, rouge_l: the ``rouge-score`` package's F-measure, with its tokenizer (lower
  case, non-alphanumerics dropped) and no stemming.
* cosine: the caller embeds both texts (``EMBEDDING_MODEL``) and ``cosine`` compares the vectors.

Two empty texts are identical (1); one empty text against a non-empty one scores 0.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Sequence
from typing import Any

EMBEDDING_MODEL = "text-embedding-3-large"
"""The model the guide names for the cosine metric, asked of the target's embeddings endpoint."""

_TOKEN = re.compile(r"\w+|[^\w\s]")
ROUGE_TYPES = {"rouge_1": "rouge1", "rouge_2": "rouge2", "rouge_3": "rouge3", "rouge_4": "rouge4",
               "rouge_5": "rouge5", "rouge_l": "rougeL"}


class _NoSynonyms:
    """Stands for WordNet in NLTK's METEOR: no word has synonyms, so no corpus is ever loaded."""

    def synsets(self, word: str, *args: Any, **kwargs: Any) -> list[Any]:
        return []


def tokens(text: str) -> list[str]:
    return _TOKEN.findall(text)


def fuzzy_match(text: str, reference: str) -> float:
    from rapidfuzz import fuzz, utils

    return float(fuzz.WRatio(text, reference, processor=utils.default_process)) / 100.0


def bleu(text: str, reference: str) -> float:
    from nltk.translate.bleu_score import SmoothingFunction, sentence_bleu

    hypothesis, ref = tokens(text), tokens(reference)
    if not hypothesis or not ref:
        return _empty(hypothesis, ref)
    order = min(4, len(hypothesis), len(ref))
    weights = tuple(1.0 / order for _ in range(order))
    return float(sentence_bleu([ref], hypothesis, weights, smoothing_function=SmoothingFunction().method1))


def gleu(text: str, reference: str) -> float:
    from nltk.translate.gleu_score import sentence_gleu

    hypothesis, ref = tokens(text), tokens(reference)
    if not hypothesis or not ref:
        return _empty(hypothesis, ref)
    return float(sentence_gleu([ref], hypothesis))


def meteor(text: str, reference: str) -> float:
    from nltk.translate.meteor_score import meteor_score

    hypothesis, ref = tokens(text), tokens(reference)
    if not hypothesis or not ref:
        return _empty(hypothesis, ref)
    return float(meteor_score([ref], hypothesis, wordnet=_NoSynonyms()))


def rouge(metric: str, text: str, reference: str) -> float:
    from rouge_score import rouge_scorer, tokenizers

    kind = ROUGE_TYPES[metric]
    tokenizer = tokenizers.DefaultTokenizer(use_stemmer=False)
    if not tokenizer.tokenize(text) and not tokenizer.tokenize(reference):
        return 1.0
    scorer = rouge_scorer.RougeScorer([kind], tokenizer=tokenizer)
    return float(scorer.score(reference, text)[kind].fmeasure)


def _rouge(metric: str) -> Callable[[str, str], float]:
    return lambda text, reference: rouge(metric, text, reference)


METRICS: dict[str, Callable[[str, str], float]] = {
    "fuzzy_match": fuzzy_match, "bleu": bleu, "gleu": gleu, "meteor": meteor,
    **{name: _rouge(name) for name in ROUGE_TYPES},
}
"""Every metric but cosine, by its name in ``evaluation_metric``: (input, reference) → score."""


def cosine(a: Sequence[float], b: Sequence[float]) -> float:
    """The cosine similarity of two vectors; raises ``ValueError`` for a zero vector or unequal lengths."""
    if len(a) != len(b) or not a:
        raise ValueError(f"the embeddings have {len(a)} and {len(b)} dimensions")
    norm = math.sqrt(sum(x * x for x in a)) * math.sqrt(sum(y * y for y in b))
    if norm == 0:
        raise ValueError("an embedding is the zero vector")
    return sum(x * y for x, y in zip(a, b, strict=True)) / norm


def _empty(hypothesis: list[str], reference: list[str]) -> float:
    return 1.0 if not hypothesis and not reference else 0.0
