"""Grader models for reinforcement fine-tuning, strict as user input must be.

Shapes follow the OpenAPI schemas ``Grader*`` with two deliberate differences, both from the
wider API (see shared/openai-spec/README.md): ``multi.graders`` is a mapping from the variable name
used in ``calculate_output`` to a grader, and a python grader may take its code from
``source_file`` (a path relative to the manifest) instead of inline ``source``.
"""

from __future__ import annotations

import keyword
import re
from collections.abc import Iterator
from typing import Annotated, Any, Literal

from pydantic import Field, StrictFloat, StrictInt, field_validator, model_validator
from pydantic_core import PydanticCustomError

from reconciler.diagnostics import FieldPath
from reconciler.manifests.strict import Strict

NonEmpty = Annotated[str, Field(min_length=1)]
_IDENT = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


class InputText(Strict):
    type: Literal["input_text"]
    text: str


class OutputText(Strict):
    type: Literal["output_text"]
    text: str


class InputImage(Strict):
    type: Literal["input_image"]
    image_url: NonEmpty
    detail: Literal["auto", "low", "high"] | None = None


class AudioData(Strict):
    data: NonEmpty
    format: Literal["mp3", "wav"]


class InputAudio(Strict):
    type: Literal["input_audio"]
    input_audio: AudioData


ContentItem = Annotated[InputText | OutputText | InputImage | InputAudio, Field(discriminator="type")]


class EvalItem(Strict):
    """One input message of a model grader; content may use ``{{item.x}}`` templates."""

    role: Literal["user", "assistant", "system", "developer"]
    content: str | ContentItem | list[ContentItem]
    type: Literal["message"] | None = None


class StringCheckGrader(Strict):
    type: Literal["string_check"]
    name: NonEmpty
    input: str
    reference: str
    operation: Literal["eq", "ne", "like", "ilike"]


class TextSimilarityGrader(Strict):
    type: Literal["text_similarity"]
    name: NonEmpty
    input: str
    reference: str
    evaluation_metric: Literal[
        "cosine", "fuzzy_match", "bleu", "gleu", "meteor",
        "rouge_1", "rouge_2", "rouge_3", "rouge_4", "rouge_5", "rouge_l",
    ]


class PythonGrader(Strict):
    type: Literal["python"]
    name: NonEmpty
    source: NonEmpty | None = None
    source_file: NonEmpty | None = None
    image_tag: NonEmpty | None = None

    @model_validator(mode="after")
    def _one_source(self) -> PythonGrader:
        if (self.source is None) == (self.source_file is None):
            raise PydanticCustomError("source", "give exactly one of source or source_file")
        return self


class SamplingParams(Strict):
    seed: StrictInt | None = None
    top_p: Annotated[float, Field(ge=0, le=1)] | None = None
    temperature: Annotated[float, Field(ge=0, le=2)] | None = None
    max_completions_tokens: Annotated[int, Field(ge=1)] | None = None
    reasoning_effort: Literal["minimal", "low", "medium", "high"] | None = None


class ScoreModelGrader(Strict):
    type: Literal["score_model"]
    name: NonEmpty
    model: NonEmpty
    input: Annotated[list[EvalItem], Field(min_length=1)]
    range: list[StrictInt | StrictFloat] | None = None
    sampling_params: SamplingParams | None = None

    @field_validator("range")
    @classmethod
    def _range(cls, value: list[float] | None) -> list[float] | None:
        if value is not None and (len(value) != 2 or not value[0] < value[1]):
            raise PydanticCustomError("range", "must be two numbers [low, high] with low < high")
        return value


class LabelModelGrader(Strict):
    type: Literal["label_model"]
    name: NonEmpty
    model: NonEmpty
    input: Annotated[list[EvalItem], Field(min_length=1)]
    labels: Annotated[list[NonEmpty], Field(min_length=1)]
    passing_labels: Annotated[list[NonEmpty], Field(min_length=1)]


InnerGrader = Annotated[
    StringCheckGrader | TextSimilarityGrader | PythonGrader | ScoreModelGrader | LabelModelGrader,
    Field(discriminator="type"),
]


class MultiGrader(Strict):
    type: Literal["multi"]
    name: NonEmpty
    graders: dict[str, InnerGrader]
    calculate_output: NonEmpty

    @field_validator("graders")
    @classmethod
    def _names(cls, value: dict[str, Any]) -> dict[str, Any]:
        if not value:
            raise PydanticCustomError("graders", "a multi grader needs at least one grader")
        bad = [name for name in value if not _IDENT.match(name) or keyword.iskeyword(name)]
        if bad:
            raise PydanticCustomError(
                "graders",
                "grader names are variables of calculate_output and must be identifiers (not Python keywords): {bad}",
                {"bad": ", ".join(bad)},
            )
        return value


TOP_LEVEL_GRADER_TYPES = ("string_check", "text_similarity", "python", "score_model", "multi")

Grader = Annotated[
    StringCheckGrader | TextSimilarityGrader | PythonGrader | ScoreModelGrader | MultiGrader,
    Field(discriminator="type"),
]

AnyGrader = StringCheckGrader | TextSimilarityGrader | PythonGrader | ScoreModelGrader | LabelModelGrader | MultiGrader


def walk(grader: AnyGrader, path: FieldPath = ("method", "grader")) -> Iterator[tuple[FieldPath, AnyGrader]]:
    """Every grader of the tree under ``grader``, itself first, each with its field path: the one walk
    of a grader tree (checks, requests, the sandbox and the evaluator use it)."""
    yield path, grader
    if isinstance(grader, MultiGrader):
        for key, inner in grader.graders.items():
            yield from walk(inner, (*path, "graders", key))
