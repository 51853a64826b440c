"""The dialects the sandbox speaks: OpenAI's, Azure OpenAI's v1 (``--flavor azure``), AWS Bedrock's
OpenAI-compatible fine-tuning endpoint (``--flavor bedrock``) and OPEA's finetuning service
(``--flavor opea``, its own routes: ``routes/opea.py``).

Azure, as the service behaves: paths under ``/openai/v1``; jobs start ``pending`` (OpenAI's
validating_files and queued); a pause passes through ``pausing`` and a resume through ``resuming``;
the job list ignores a metadata filter, as a proxy might; a suffix has at most 40 characters, letters,
digits, ``-`` and ``_`` only; no python grader; ``trainingType`` on every create (without it, the
misleading answer Azure gives: the model does not support fine-tuning), of the types the model has;
the models Azure fine-tunes (open-weight ones included); one job of the resource running and 20
queued; a reinforcement job paused by the service half-way (its $5,000 cost ceiling); fine-tuned
models named ``BASE.ft-ID`` and the suffix returned as ``user_provided_suffix``; no Uploads API; a file
is created with ``expires_after``; error bodies carry camelCase codes and ``type: error`` (and no
null ``param``), and a request in the wrong state is a 409. Its published description
(tests/azure-openai-spec/) is what the tests check its shapes against.

Bedrock, as AWS's user guide publishes it (providers/bedrock.py): OpenAI's paths under ``/v1`` and
a bearer key; the two open-weight models it names, with the methods its profile offers; a suffix
refused (AWS's sample: "Suffix field is not supported"); a reinforcement grader only as an AWS
Lambda function (``{"type": "lambda", "lambda": {"function": ARN}}``); metadata kept. What AWS does
not say is answered as OpenAI does, or — pause and resume, which it does not mention — not at all
(404): the exact bodies of its refusals are UNCONFIRMED.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from reconciler.providers import AZURE as AZURE_PROFILE
from reconciler.providers import BEDROCK as BEDROCK_PROFILE
from reconciler.providers import OPEA as OPEA_PROFILE
from reconciler.providers import OPENAI as OPENAI_PROFILE
from reconciler.providers import Provider

TRANSITION_SECONDS = 5.0
"""How long Azure's pausing and resuming last (divided by --speed)."""


@dataclass(frozen=True)
class Flavor:
    name: str
    prefix: str = "/v1"
    metadata_filter: bool = True
    suffix_max: int = 64
    pending: bool = False
    transitions: bool = False
    uploads_api: bool = True
    file_expiry_required: bool = False
    python_grader: bool = True
    conflict_status: int = 400
    codes: dict[str, str] = field(default_factory=dict)
    extra_create_fields: dict[str, tuple[str, ...]] = field(default_factory=dict)
    """Create fields of this dialect only, and their allowed values."""
    profile: Provider = OPENAI_PROFILE
    """What the service it emulates fine-tunes: models, methods, training types, suffix characters."""
    naming: str = "openai"
    """How fine-tuned models are named: ``ft:BASE:ORG:SUFFIX:ID``, or Azure's ``BASE.ft-ID``."""
    one_running: bool = False
    """Azure: one job of the resource runs at a time; the others wait queued (``profile.active_limit``
    in all)."""
    ceiling_pause: bool = False
    """Azure: a reinforcement job pauses itself half-way, standing for its $5,000 cost ceiling."""
    lambda_grader: bool = False
    """Bedrock: a reinforcement job is graded by an AWS Lambda function, and by nothing else."""
    auth: bool = True
    """Whether a request needs a key (OPEA's service has no authentication)."""

    @property
    def statuses(self) -> frozenset[str]:
        """The statuses a job of this flavour shows before it ends."""
        if self.pending:
            return frozenset({"pending", "running", "paused", "pausing", "resuming"})
        return frozenset({"validating_files", "queued", "running", "paused"})

    def code(self, code: str | None) -> str | None:
        return self.codes.get(code, code) if code is not None else None

    def error_body(self, message: str, param: str | None, code: str | None, kind: str) -> dict[str, Any]:
        if self.name == "opea":  # a FastAPI service's HTTPException
            return {"detail": message}
        if self.name != "azure":
            return {"error": {"message": message, "type": kind, "param": param, "code": code}}
        body: dict[str, Any] = {"code": self.code(code) or "error", "message": message, "type": "error"}
        if param is not None:
            body["param"] = param
        return {"error": body}


OPENAI = Flavor(name="openai")
AZURE = Flavor(
    name="azure", prefix="/openai/v1", metadata_filter=False, suffix_max=40, pending=True, transitions=True,
    uploads_api=False, file_expiry_required=True, python_grader=False, conflict_status=409,
    codes={
        "invalid_value": "invalidPayload", "invalid_type": "invalidPayload", "unknown_parameter": "invalidPayload",
        "missing_required_parameter": "invalidPayload", "invalid_json": "invalidPayload",
        "model_not_available": "invalidPayload", "unsupported_method": "invalidPayload",
        "invalid_file": "invalidPayload", "invalid_file_purpose": "invalidPayload",
        "invalid_training_file": "jsonlValidationFailed", "invalid_validation_file": "jsonlValidationFailed",
        "invalid_status_for_cancel": "unexpectedEntityState", "invalid_status_for_pause": "unexpectedEntityState",
        "invalid_status_for_resume": "unexpectedEntityState",
        "fine_tune_not_found": "notFound", "not_found": "notFound", "model_not_found": "notFound",
        "rate_limit_exceeded": "tooManyRequests", "daily_rate_limit_exceeded": "quotaExceeded",
        "fine_tuning_job_limit_exceeded": "quotaExceeded", "idempotency_key_reused": "invalidPayload",
    },
    extra_create_fields={"trainingType": ("globalstandard", "standard", "developer")},
    profile=AZURE_PROFILE, naming="azure", one_running=True, ceiling_pause=True,
)
BEDROCK = Flavor(name="bedrock", uploads_api=False, python_grader=False, lambda_grader=True,
                  profile=BEDROCK_PROFILE)
OPEA = Flavor(name="opea", uploads_api=False, auth=False, profile=OPEA_PROFILE)
FLAVORS = {f.name: f for f in (OPENAI, AZURE, BEDROCK, OPEA)}


@dataclass(frozen=True)
class Options:
    """How ``ftctl sandbox serve`` was started."""

    flavor: Flavor = OPENAI
    speed: float = 1.0
    max_active_jobs: int | None = None
    """Creates beyond this many active jobs are refused (429, a quota)."""
    daily_limit: int | None = None
    """The create after this many in a (UTC) day is refused (429, ``daily_rate_limit_exceeded``)."""
    drop_fields: frozenset[str] = frozenset()
    """Fields of a create request dropped before it is handled, as a forwarding proxy might."""
    idempotency: bool = True
    """Honour ``Idempotency-Key``; off, every POST is a new write (as on an API that ignores the key)."""
