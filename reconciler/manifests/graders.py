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
    """input_text: text given to the grader model."""
    text: str
    """The text; templates read {{item.FIELD}} (the data line) and {{sample.output_text}} (the answer)."""


class OutputText(Strict):
    type: Literal["output_text"]
    """output_text: text the assistant wrote."""
    text: str
    """The text; templates read {{item.FIELD}} (the data line) and {{sample.output_text}} (the answer)."""


class InputImage(Strict):
    type: Literal["input_image"]
    """input_image: an image given to the grader model."""
    image_url: NonEmpty
    """The image's URL or data URL, or a template such as {{item.image_url}}."""
    detail: Literal["auto", "low", "high"] | None = None
    """How closely the model looks at the image: auto, low or high."""


class AudioData(Strict):
    data: NonEmpty
    """The audio, base64-encoded, or a template such as {{item.audio}}."""
    format: Literal["mp3", "wav"]
    """The audio's format: mp3 or wav."""


class InputAudio(Strict):
    type: Literal["input_audio"]
    """input_audio: audio given to the grader model."""
    input_audio: AudioData
    """The audio and its format."""


ContentItem = Annotated[InputText | OutputText | InputImage | InputAudio, Field(discriminator="type")]


class EvalItem(Strict):
    """One input message of a model grader; content may use {{item.x}} templates."""

    role: Literal["user", "assistant", "system", "developer"]
    """Who speaks: user, assistant, system or developer."""
    content: str | ContentItem | list[ContentItem]
    """A string, or one or more items (input_text, output_text, input_image, input_audio); templates read
    {{item.FIELD}} (the data line) and {{sample.output_text}} (the answer)."""
    type: Literal["message"] | None = None
    """message (may be left out)."""


class StringCheckGrader(Strict):
    type: Literal["string_check"]
    """string_check: 1 when input and reference compare as operation says, else 0."""
    name: NonEmpty
    """The grader's name, shown in the job's results."""
    input: str
    """The text checked, usually {{sample.output_text}} (the model's answer)."""
    reference: str
    """What the input is compared with, usually a field of the data line such as {{item.label}}."""
    operation: Literal["eq", "ne", "like", "ilike"]
    """eq: input equals reference; ne: it does not; like: input contains reference; ilike: contains it, ignoring
    case."""


class TextSimilarityGrader(Strict):
    type: Literal["text_similarity"]
    """text_similarity: a score from 0 to 1 of how close input is to reference."""
    name: NonEmpty
    """The grader's name, shown in the job's results."""
    input: str
    """The text graded, usually {{sample.output_text}} (the model's answer)."""
    reference: str
    """The text it is graded against, usually a field of the data line such as {{item.answer}}."""
    evaluation_metric: Literal[
        "cosine", "fuzzy_match", "bleu", "gleu", "meteor",
        "rouge_1", "rouge_2", "rouge_3", "rouge_4", "rouge_5", "rouge_l",
    ]
    """How closeness is measured: fuzzy_match, bleu, gleu, meteor, rouge_1 to rouge_5, rouge_l, or cosine (of
    embeddings)."""


class PythonGrader(Strict):
    type: Literal["python"]
    """python: your code scores each answer; it defines grade(sample, item) and returns a number."""
    name: NonEmpty
    """The grader's name, shown in the job's results."""
    source: NonEmpty | None = None
    """The code, inline: it defines grade(sample, item); sample['output_text'] is the answer, item the data line.
    Give this or source_file."""
    source_file: NonEmpty | None = None
    """A .py file with the code, relative to this manifest; it is read and sent inline. Give this or source."""
    image_tag: NonEmpty | None = None
    """The image the code runs in on the service, e.g. 2025-05-08 (default: the service's)."""

    @model_validator(mode="after")
    def _one_source(self) -> PythonGrader:
        if (self.source is None) == (self.source_file is None):
            raise PydanticCustomError("source", "give exactly one of source or source_file")
        return self


class SamplingParams(Strict):
    seed: StrictInt | None = None
    """Seed of the grader model's sampling."""
    top_p: Annotated[float, Field(ge=0, le=1)] | None = None
    """Nucleus sampling, 0 to 1: 1 considers every token."""
    temperature: Annotated[float, Field(ge=0, le=2)] | None = None
    """0 to 2: higher is more random."""
    max_completions_tokens: Annotated[int, Field(ge=1)] | None = None
    """The most tokens the grader model may write in its answer."""
    reasoning_effort: Literal["minimal", "low", "medium", "high"] | None = None
    """How much a reasoning grader model reasons: minimal, low, medium or high."""


class ScoreModelGrader(Strict):
    type: Literal["score_model"]
    """score_model: a model scores each answer, as a number in range."""
    name: NonEmpty
    """The grader's name, shown in the job's results."""
    model: NonEmpty
    """The model that scores, e.g. gpt-4.1-2025-04-14."""
    input: Annotated[list[EvalItem], Field(min_length=1)]
    """The messages sent to the scoring model; templates read {{item.FIELD}} (the data line) and
    {{sample.output_text}} (the answer)."""
    range: list[StrictInt | StrictFloat] | None = None
    """[low, high]: the range of the score (default [0, 1])."""
    sampling_params: SamplingParams | None = None
    """How the scoring model samples: seed, top_p, temperature, max_completions_tokens, reasoning_effort."""

    @field_validator("range")
    @classmethod
    def _range(cls, value: list[float] | None) -> list[float] | None:
        if value is not None and (len(value) != 2 or not value[0] < value[1]):
            raise PydanticCustomError("range", "must be two numbers [low, high] with low < high")
        return value


class LabelModelGrader(Strict):
    type: Literal["label_model"]
    """label_model (only inside a multi grader): a model gives each answer one of labels."""
    name: NonEmpty
    """The grader's name, shown in the job's results."""
    model: NonEmpty
    """The model that labels; it must support structured outputs."""
    input: Annotated[list[EvalItem], Field(min_length=1)]
    """The messages sent to the labelling model; templates read {{item.FIELD}} (the data line) and
    {{sample.output_text}} (the answer)."""
    labels: Annotated[list[NonEmpty], Field(min_length=1)]
    """The labels the model may give."""
    passing_labels: Annotated[list[NonEmpty], Field(min_length=1)]
    """The labels that count as a pass; each must be one of labels."""


InnerGrader = Annotated[
    StringCheckGrader | TextSimilarityGrader | PythonGrader | ScoreModelGrader | LabelModelGrader,
    Field(discriminator="type"),
]


class MultiGrader(Strict):
    type: Literal["multi"]
    """multi: several graders, their scores combined by calculate_output."""
    name: NonEmpty
    """The grader's name, shown in the job's results."""
    graders: dict[str, InnerGrader]
    """The graders, each under the name calculate_output uses for its score (an identifier); label_model graders are
    allowed here."""
    calculate_output: NonEmpty
    """A formula over the graders' scores: numbers, their names, + - * / ^, parentheses, and min, max, abs, floor,
    ceil, exp, sqrt, log; e.g. 0.5 * exact + 0.5 * label_ok. It must use every grader."""

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
