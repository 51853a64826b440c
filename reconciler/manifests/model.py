"""The manifest: one fine-tuning job as the user declares it (SPEC §1).

The manifest's ``method`` is flatter than the API's (``{type, hyperparameters, grader}`` instead of
``{type, supervised: {hyperparameters}}``); ``reconciler.identity`` turns it into the create
request. Ranges follow shared/openai-spec/openapi-fine-tuning.yaml.
"""

from __future__ import annotations

import re
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, Discriminator, Field, Tag, field_validator
from pydantic_core import PydanticCustomError

from reconciler.diagnostics import FieldPath
from reconciler.manifests.evaluation import Evaluation
from reconciler.manifests.graders import AnyGrader, Grader
from reconciler.manifests.strict import AS_WRITTEN, Strict, auto_or_float, auto_or_int
from reconciler.providers.azure import TrainingType

NAME_PATTERN = r"^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$"
FILE_ID = re.compile(r"^file-[A-Za-z0-9_-]+$")
JOB_ID_PATTERN = r"^ftjob-[A-Za-z0-9_-]{1,128}$"
RESERVED_PREFIX = "ftctl-"
MAX_USER_METADATA = 13  # the API allows 16 pairs; ftctl keeps 3 for its identity tags
MAX_SEED = 2_147_483_647

State = Literal["active", "paused", "cancelled"]
"""What a manifest wants of its job: to run, to be paused, or to be cancelled (``state:``)."""
Auto = Literal["auto"]
BatchSize = Annotated[Auto | int, auto_or_int(1, 256)]
Epochs = Annotated[Auto | int, auto_or_int(1, 50)]
LearningRate = Annotated[Auto | float, auto_or_float(0), AS_WRITTEN]
Beta = Annotated[Auto | float, auto_or_float(0, 2), AS_WRITTEN]
ComputeMultiplier = Annotated[Auto | float, auto_or_float(0.00001, 10), AS_WRITTEN]
PositiveOrAuto = Annotated[Auto | int, auto_or_int(1)]


class SupervisedHyperparameters(Strict):
    batch_size: BatchSize = "auto"
    """Examples per batch: "auto" (the service chooses) or 1 to 256; larger batches update the model less often,
    with less variance."""
    learning_rate_multiplier: LearningRate = "auto"
    """Scales the base learning rate: "auto" or a number above 0; smaller values can help against overfitting."""
    n_epochs: Epochs = "auto"
    """Full passes over the training data: "auto" (OpenAI's rule: about 3, at least 100 and at most 25,000
    example-passes) or 1 to 50."""


class DpoHyperparameters(SupervisedHyperparameters):
    beta: Beta = "auto"
    """Weight of the penalty that keeps the model close to the one it starts from: "auto", or above 0 and at most 2."""


class ReinforcementHyperparameters(SupervisedHyperparameters):
    reasoning_effort: Literal["default", "low", "medium", "high"] = "default"
    """How much the model reasons while it trains: default, low, medium or high."""
    compute_multiplier: ComputeMultiplier = "auto"
    """Multiplies the compute spent exploring answers while training: "auto", or above 0.00001 and at most 10."""
    eval_interval: PositiveOrAuto = "auto"
    """Training steps between evaluation runs: "auto" or at least 1."""
    eval_samples: PositiveOrAuto = "auto"
    """Samples generated per evaluation run: "auto" or at least 1."""


class SupervisedMethod(Strict):
    type: Literal["supervised"] = "supervised"
    """supervised, the default: trains on chat examples, {"messages": [...]} ending with the assistant's answer
    ({"prompt", "completion"} pairs for babbage-002 and davinci-002)."""
    hyperparameters: SupervisedHyperparameters = SupervisedHyperparameters()
    """Hyperparameters of supervised fine-tuning; each one left out is "auto"."""


class DpoMethod(Strict):
    type: Literal["dpo"]
    """dpo: Direct Preference Optimization, trained on pairs of answers, {"input": {"messages": [...]},
    "preferred_output": [assistant], "non_preferred_output": [assistant]}."""
    hyperparameters: DpoHyperparameters = DpoHyperparameters()
    """Hyperparameters of DPO; each one left out is "auto"."""


class ReinforcementMethod(Strict):
    type: Literal["reinforcement"]
    """reinforcement: a reasoning model learns from the grader's scores of its own answers; each data line is
    {"messages": [... ending with a user message]} plus the fields the grader reads."""
    hyperparameters: ReinforcementHyperparameters = ReinforcementHyperparameters()
    """Hyperparameters of reinforcement fine-tuning; each one left out is "auto" (reasoning_effort: default)."""
    grader: Grader
    """How each answer is scored: string_check, text_similarity, python, score_model or multi. Required here,
    refused with the other methods."""


HYPERPARAMETERS: dict[str, type[SupervisedHyperparameters]] = {
    "supervised": SupervisedHyperparameters, "dpo": DpoHyperparameters, "reinforcement": ReinforcementHyperparameters}
"""The hyperparameter model of each method type."""


def _method_type(value: Any) -> Any:
    # ``type`` may be left out of ``method``: it defaults to supervised, as in the API.
    if isinstance(value, dict):
        return value.get("type", "supervised")
    return getattr(value, "type", None)


Method = Annotated[
    Annotated[SupervisedMethod, Tag("supervised")]
    | Annotated[DpoMethod, Tag("dpo")]
    | Annotated[ReinforcementMethod, Tag("reinforcement")],
    Discriminator(_method_type),
]


class Wandb(Strict):
    project: Annotated[str, Field(min_length=1)]
    """The Weights & Biases project the run is logged to."""
    name: str | None = None
    """The run's display name (default: the job's ID)."""
    entity: str | None = None
    """The W&B team or user the run belongs to (default: the default entity of the W&B key registered with the
    provider)."""
    tags: list[str] | None = None
    """Tags of the run, passed on to W&B (OpenAI adds its own: openai/finetune, the base model, the job's ID)."""


class Integration(Strict):
    type: Literal["wandb"]
    """wandb: the one integration the API offers."""
    wandb: Wandb
    """Where the run is logged in Weights & Biases."""


def _metadata_key(key: str) -> str:
    if key.startswith(RESERVED_PREFIX):
        raise PydanticCustomError("metadata_reserved", "key '{key}': the prefix ftctl- is reserved", {"key": key})
    if not 1 <= len(key) <= 64:
        raise PydanticCustomError("metadata_key", "key '{key}': keys must be 1 to 64 characters", {"key": key[:70]})
    return key


def _metadata_value(value: str) -> str:
    if len(value) > 512:
        raise PydanticCustomError("metadata_value", "the value is {n} characters; at most 512", {"n": len(value)})
    return value


# Checked per key and value, so that an error names the key's own line.
MetadataKey = Annotated[str, AfterValidator(_metadata_key)]
MetadataValue = Annotated[str, AfterValidator(_metadata_value)]


class AzureOptions(Strict):
    training_type: TrainingType | None = None
    """Azure OpenAI's training tier, sent as trainingType: globalstandard, standard or developer."""


class ProviderOptions(Strict):
    """Fields only one provider has; sent to that provider only (the spec hash includes them)."""

    azure: AzureOptions | None = None
    """Options sent to Azure OpenAI only."""


CHECKPOINT_PATTERN = r"^(final|last|step [1-9][0-9]{0,8})$"


class ModelFrom(Strict):
    """The model another manifest of the stack trains (SPEC §10): a stage built on an earlier one."""

    from_: Annotated[str, Field(alias="from", pattern=NAME_PATTERN)]
    """The name of the manifest whose result this one trains on."""
    checkpoint: Annotated[str, Field(pattern=CHECKPOINT_PATTERN)] = "final"
    """Which result: final (its fine-tuned model, the default), last (its newest checkpoint), or step N (its
    checkpoint at step N)."""

    @property
    def name(self) -> str:
        return self.from_


class Manifest(Strict):
    kind: Literal["FineTuningJob"] = "FineTuningJob"
    """FineTuningJob, the one kind there is (may be left out)."""
    name: Annotated[str, Field(pattern=NAME_PATTERN)]
    """The job's name, unique in the stack: 1 to 63 lowercase letters, digits and '-', starting and ending with a
    letter or digit. It finds the job again on every plan (the tag ftctl-name)."""
    model: Annotated[
        Annotated[Annotated[str, Field(min_length=1)], Tag("model name")] | Annotated[ModelFrom, Tag("upstream")],
        Discriminator(lambda value: "upstream" if isinstance(value, dict | ModelFrom) else "model name")]
    """The model to fine-tune: a base model (gpt-4o-mini-2024-07-18, or an alias such as gpt-4o-mini), a
    fine-tuned one (ft:BASE:ORG:SUFFIX:ID), or {from: NAME, checkpoint: final|last|step N}: the result of another
    manifest of the stack, once it is ready."""
    training_file: Annotated[str, Field(min_length=1)]
    """The training data: a JSONL file relative to this manifest (checked offline, uploaded once per content) or the
    ID of an uploaded file (file-…)."""
    validation_file: Annotated[str, Field(min_length=1)] | None = None
    """Optional validation data, in the same forms as training_file."""
    method: Method = SupervisedMethod()
    """How the model is trained: type (supervised, dpo or reinforcement), hyperparameters, and for reinforcement a
    grader. Default: supervised, every hyperparameter auto."""
    suffix: Annotated[str, Field(min_length=1, max_length=64)] | None = None
    """Up to 64 characters (40 on Azure) put into the fine-tuned model's name, ft:BASE:ORG:SUFFIX:ID."""
    seed: Annotated[int, Field(ge=0, le=MAX_SEED)] | None = None
    """Seed of the training run, 0 to 2147483647, for reproducible results (default: chosen by the service)."""
    metadata: dict[MetadataKey, MetadataValue] = Field(default_factory=dict)
    """Your own tags of the job: at most 13 string pairs (the API allows 16; ftctl uses 3), keys up to 64 and values
    up to 512 characters, the prefix ftctl- reserved. Not part of the spec: a change is shown by plan, not applied
    to an existing job."""
    integrations: Annotated[list[Integration], Field(max_length=5)] = Field(default_factory=list)
    """At most 5 integrations that follow the run: Weights & Biases (type: wandb)."""
    state: State = "active"
    """active (the default): the job should run; paused: pause it once it runs; cancelled: cancel it. Not part of
    the spec: a change pauses, resumes or cancels the job, never replaces it."""
    provider_options: ProviderOptions | None = None
    """Fields only one provider has, sent to that provider only (part of the spec when set)."""
    job_id: Annotated[str, Field(pattern=JOB_ID_PATTERN)] | None = None
    """Adopts an existing job (ftjob-…): matched by this ID instead of by ftctl's tags, and never replaced
    while pinned (ftctl import writes manifests with it)."""
    eval: Evaluation | None = None
    """How the trained model is judged (SPEC §11): items, grader, baseline and the gate a downstream stage waits
    for. Not part of the spec: it judges the result."""
    previous_names: list[Annotated[str, Field(pattern=NAME_PATTERN)]] = Field(default_factory=list)
    """Names this manifest had before (a rename): a live job tagged with one of them is this manifest's job — no
    new paid job, no orphan. Not part of the spec."""

    def grader_trees(self) -> list[tuple[FieldPath, AnyGrader]]:
        """Every grader tree of the manifest with its path: the reinforcement grader, the eval's."""
        out: list[tuple[FieldPath, AnyGrader]] = []
        if isinstance(self.method, ReinforcementMethod):
            out.append((("method", "grader"), self.method.grader))
        if self.eval is not None:
            out.append((("eval", "grader"), self.eval.grader))
        return out

    @property
    def upstream(self) -> ModelFrom | None:
        return self.model if isinstance(self.model, ModelFrom) else None

    @field_validator("metadata")
    @classmethod
    def _metadata_limits(cls, value: dict[str, str]) -> dict[str, str]:
        if len(value) > MAX_USER_METADATA:
            raise PydanticCustomError(
                "metadata_count",
                "at most {limit} user metadata pairs (the API allows 16 and ftctl uses 3), got {count}",
                {"limit": MAX_USER_METADATA, "count": len(value)},
            )
        return value

    def to_document(self) -> dict[str, Any]:
        """The manifest as YAML-ready data, without defaults: ``load(dump(m)) == m``."""
        return self.model_dump(mode="json", exclude_defaults=True, exclude_none=True, by_alias=True)


def is_file_id(value: str) -> bool:
    """``file-abc123`` names an uploaded file; anything else is a local path."""
    return bool(FILE_ID.match(value))
