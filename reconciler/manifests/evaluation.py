"""The ``eval:`` section of a manifest (SPEC §11): how the trained model is judged, and the gate a
pipeline's next stage waits for.

Strict like the rest of a manifest. The grader is any grader of the grader language (multi
included); the items are a JSONL file beside the manifest, checked offline like training data
(``datasets``); ``sampling`` is sent as given with every completion; ``baseline`` is what the trained
model is compared with; ``gate`` is the score (and the gain over the baseline) a downstream stage
needs before it is trained; ``endpoint`` is where the trained model is served when that is not the
target's own chat completions (an Azure deployment, a serving cluster). The section is left out of
the spec hash: it judges the result, it does not change how it is trained.
"""

from __future__ import annotations

from typing import Annotated

from pydantic import Field, ValidationInfo, field_validator, model_validator
from pydantic_core import PydanticCustomError

from reconciler.manifests.graders import Grader, ScoreModelGrader, StringCheckGrader, TextSimilarityGrader
from reconciler.manifests.strict import Strict

Finite = Annotated[float, Field(allow_inf_nan=False)]


class Sampling(Strict):
    temperature: Annotated[float, Field(ge=0, le=2)] | None = None
    """Sampling temperature, 0 to 2 (0: the most likely answer)."""
    top_p: Annotated[float, Field(ge=0, le=1)] | None = None
    """Nucleus sampling, 0 to 1."""
    max_completion_tokens: Annotated[int, Field(ge=1)] | None = None
    """The longest answer sampled, in tokens."""
    seed: Annotated[int, Field(ge=0)] | None = None
    """Seed of the sampling, for repeatable answers where the service supports it."""


class Gate(Strict):
    min_score: Finite | None = None
    """The mean score the trained model needs."""
    min_gain: Finite | None = None
    """How much more than the baseline's mean score it needs (a baseline must be compared with)."""

    @model_validator(mode="after")
    def _something(self) -> Gate:
        if self.min_score is None and self.min_gain is None:
            raise PydanticCustomError("gate", "a gate needs min_score, min_gain or both")
        return self


class Endpoint(Strict):
    api_base: Annotated[str, Field(pattern=r"^https?://[^/\s]+")]
    """The base URL that serves the trained model's chat completions (its key from the environment, as
    the target's)."""
    deployment: Annotated[str, Field(min_length=1)] | None = None
    """The model name to ask for there (an Azure deployment), else the fine-tuned model's own name."""


class Evaluation(Strict):
    file: Annotated[str, Field(min_length=1)]
    """The evaluation items: a JSONL file relative to this manifest, one {"messages": [...], fields…} per line
    (a line ending with an assistant message: that message is item.reference)."""
    grader: Grader
    """How each answer is graded: any grader of the grader language, multi included."""
    sampling: Sampling = Sampling()
    """Sent as given with every completion."""
    baseline: Annotated[str, Field(min_length=1)] = "base"
    """What the trained model is compared with: base (the model it was trained from), none, or a model name."""
    gate: Gate | None = None
    """What a downstream stage waits for: the trained model's mean score, its gain over the baseline."""
    endpoint: Endpoint | None = None
    """Where the trained model is served, when not on the target's own chat completions."""

    @field_validator("gate")
    @classmethod
    def _reachable(cls, gate: Gate | None, info: ValidationInfo) -> Gate | None:
        """A gate that can be passed: min_gain needs a baseline; a grader with a known range (0 to 1, or
        score_model's) cannot reach a score above it, nor a gain above its width."""
        if gate is None:
            return gate
        if gate.min_gain is not None and info.data.get("baseline") == "none":
            raise PydanticCustomError("gate", "min_gain compares with the baseline, and baseline is none")
        low, high = _range(info.data.get("grader"))
        if high is not None and gate.min_score is not None and gate.min_score > high:
            raise PydanticCustomError("gate", "min_score {score} can never be reached: the grader scores from {low} "
                                      "to {high}", {"score": gate.min_score, "low": low, "high": high})
        if high is not None and gate.min_gain is not None and gate.min_gain > high - low:
            raise PydanticCustomError("gate", "min_gain {gain} can never be reached: the grader scores from {low} to "
                                      "{high}", {"gain": gate.min_gain, "low": low, "high": high})
        return gate


def _range(grader: object) -> tuple[float, float | None]:
    """The scores a grader gives, where its type bounds them (python and multi graders: unbounded)."""
    if isinstance(grader, StringCheckGrader | TextSimilarityGrader):
        return 0.0, 1.0
    if isinstance(grader, ScoreModelGrader):
        low, high = grader.range or [0, 1]
        return float(low), float(high)
    return 0.0, None
