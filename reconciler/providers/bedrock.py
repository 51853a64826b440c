"""AWS Bedrock's OpenAI-compatible fine-tuning endpoint (``https://bedrock-mantle.REGION.api.aws/v1``).

As AWS's user guide publishes it ("Fine-tune open-weight models using OpenAI-compatible APIs" and
"Create and manage fine-tuning jobs for open-weight models using OpenAI APIs",
docs.aws.amazon.com/bedrock/latest/userguide/fine-tuning-openai-apis.html and
…/fine-tuning-openai-job-create.html; Mantle endpoints per region: …/bedrock-mantle.html):

* OpenAI's routes under ``/v1`` on the regional ``bedrock-mantle`` host; ``POST /v1/fine_tuning/jobs``
  is shown. Files API, list and retrieve jobs, events and checkpoints are named as capabilities.
* A Bedrock API key as a bearer token, read from ``OPENAI_API_KEY`` (the guide's SDK sample
  "Requires OPENAI_API_KEY and OPENAI_BASE_URL environment variables").
* Reinforcement fine-tuning of open-weight models (gpt-oss-20b, Qwen3 32B), graded by an AWS Lambda
  function: ``{"type": "lambda", "lambda": {"function": ARN}}``. ftctl's grader language has no
  Lambda grader, so no grader of a manifest runs there (``graders`` is empty): ``port`` says so.
* No suffix: AWS's own sample comments it out ("Suffix field is not supported").

UNCONFIRMED (no source says; each choice below is the one that costs nothing when wrong):

* the model IDs the create takes (``gpt-oss-20b``, ``Qwen3-32B`` here; Mantle's inference IDs read
  ``openai.gpt-oss-20b``: ``FTCTL_EXTRA_MODELS`` admits another spelling);
* supervised fine-tuning through this API: offered here (OpenAI's default method; a create Bedrock
  refuses is a 400 and no job); DPO is not offered;
* whether a job keeps ``metadata``: assumed kept, and checked after every create by the tag round
  trip — if Bedrock drops it, that first job is cancelled at once and apply creates nothing more
  on the target: one job spent, never more;
* statuses (OpenAI's assumed; any other is shown and never acted on), cancel (OpenAI's route),
  pause and resume (not mentioned: refused here), error codes (OpenAI's), files over 512 MB (sent in
  one request: the Uploads API is not mentioned), the metadata filter on the job list (used; ftctl
  filters the answer again itself).
"""

from __future__ import annotations

from reconciler.providers.base import Provider
from reconciler.providers.openai import OPENAI

_BOTH = frozenset({"supervised", "reinforcement"})
MODELS = {"gpt-oss-20b": _BOTH, "Qwen3-32B": _BOTH}
HOST_PREFIX, HOST_SUFFIX = "bedrock-mantle.", ".api.aws"


def is_bedrock_host(host: str) -> bool:
    """``bedrock-mantle.<region>.api.aws``."""
    return host.startswith(HOST_PREFIX) and host.endswith(HOST_SUFFIX) and host.count(".") == 3


BEDROCK = Provider(
    name="bedrock",
    title="AWS Bedrock",
    models=MODELS,
    suffix_supported=False,
    graders=frozenset(),
    pauses=False,
    file_parts=False,
    example_base="https://bedrock-mantle.us-west-2.api.aws/v1",
    error_kinds=OPENAI.error_kinds,
    refused_fields={"method.grader": "grades reinforcement jobs with an AWS Lambda function ({type: lambda, "
                                     "lambda: {function: ARN}}), which ftctl's graders cannot name yet: the grader "
                                     "must become a Lambda function"},
    method_notes={"supervised": "supervised fine-tuning through AWS Bedrock's OpenAI-compatible API is UNCONFIRMED "
                                "(its user guide shows reinforcement); a create it refuses makes no job"},
)
