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

from reconciler.manifests.graders import Grader
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
    learning_rate_multiplier: LearningRate = "auto"
    n_epochs: Epochs = "auto"


class DpoHyperparameters(SupervisedHyperparameters):
    beta: Beta = "auto"


class ReinforcementHyperparameters(SupervisedHyperparameters):
    reasoning_effort: Literal["default", "low", "medium", "high"] = "default"
    compute_multiplier: ComputeMultiplier = "auto"
    eval_interval: PositiveOrAuto = "auto"
    eval_samples: PositiveOrAuto = "auto"


class SupervisedMethod(Strict):
    type: Literal["supervised"] = "supervised"
    hyperparameters: SupervisedHyperparameters = SupervisedHyperparameters()


class DpoMethod(Strict):
    type: Literal["dpo"]
    hyperparameters: DpoHyperparameters = DpoHyperparameters()


class ReinforcementMethod(Strict):
    type: Literal["reinforcement"]
    hyperparameters: ReinforcementHyperparameters = ReinforcementHyperparameters()
    grader: Grader


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
    name: str | None = None
    entity: str | None = None
    tags: list[str] | None = None


class Integration(Strict):
    type: Literal["wandb"]
    wandb: Wandb


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
    """Sent to Azure OpenAI as ``trainingType``."""


class ProviderOptions(Strict):
    """Fields only one provider has; sent to that provider only (the spec hash includes them)."""

    azure: AzureOptions | None = None


class Manifest(Strict):
    kind: Literal["FineTuningJob"] = "FineTuningJob"
    name: Annotated[str, Field(pattern=NAME_PATTERN)]
    model: Annotated[str, Field(min_length=1)]
    training_file: Annotated[str, Field(min_length=1)]
    validation_file: Annotated[str, Field(min_length=1)] | None = None
    method: Method = SupervisedMethod()
    suffix: Annotated[str, Field(min_length=1, max_length=64)] | None = None
    seed: Annotated[int, Field(ge=0, le=MAX_SEED)] | None = None
    metadata: dict[MetadataKey, MetadataValue] = Field(default_factory=dict)
    integrations: Annotated[list[Integration], Field(max_length=5)] = Field(default_factory=list)
    state: State = "active"
    provider_options: ProviderOptions | None = None
    job_id: Annotated[str, Field(pattern=JOB_ID_PATTERN)] | None = None
    """Adopts an existing job: matched by this ID instead of by tags, never replaced (SPEC §9)."""

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
        return self.model_dump(mode="json", exclude_defaults=True, exclude_none=True)


def is_file_id(value: str) -> bool:
    """``file-abc123`` names an uploaded file; anything else is a local path."""
    return bool(FILE_ID.match(value))
