"""OPEA GenAIComps' finetuning service: a self-hosted, OpenAI-shaped fine-tuning server that trains
on Ray (``http://HOST:8015/v1``).

As its published code has it (opea-project/GenAIComps @8130a3fb, 2026-01-05,
``comps/finetuning/src/``: ``opea_finetuning_microservice.py`` for the routes, ``integrations/native.py``
for what they do, ``integrations/finetune_config.py`` and ``comps/cores/proto/api_protocol.py`` for
the request and the job):

* Routes: ``POST /v1/fine_tuning/jobs`` (create), ``GET /v1/fine_tuning/jobs`` (every job at once,
  ``has_more`` false), ``POST /v1/fine_tuning/jobs/retrieve`` and ``/cancel`` with a JSON body
  ``{"fine_tuning_job_id": …}``, ``POST /v1/finetune/list_checkpoints`` (the same body),
  ``POST /v1/files`` (multipart ``purpose`` and ``file``). No file list, no events, no pause or
  resume, no delete. No authentication. Port 8015. ``api.opea`` speaks this dialect.
* A job trains on the uploaded file's *name*: the create's ``training_file`` is looked up as
  ``datasets/<name>`` (404 if absent); the upload's returned ``id`` is never used again.
* The job keeps id, model, created_at, training_file, status, seed and hyperparameters (epochs,
  batch size and the absolute learning rate, labelled ``learning_rate_multiplier``) — no metadata,
  no suffix, no method, no validation file, no integrations; ``fine_tuned_model`` is never set (the
  checkpoints are directories). So ftctl's identity rides on the training file's name
  (``tagged_files``), one upload per job, and the tag round trip checks the tags only.
* Statuses: ``running`` when created, then Ray's status lower-cased every 5 s — ``pending``,
  ``running``, ``succeeded``, ``failed`` — with Ray's ``stopped`` shown as ``cancelled``; a cancel
  sets ``cancelled`` at once.
* Jobs live in the process's memory only: a restart of the service forgets every job (files stay).
  Every create is a new job and a new Ray job (no idempotency key).
* What the create reads: ``model``, ``training_file``, ``seed`` (a *string*: pydantic 2 refuses an
  integer there — inferred from its defaults, not run), and ``General`` (``task``: instruction_tuning,
  dpo, …), ``Dataset``, ``Training`` (``epochs``, ``batch_size``, ``learning_rate``, ``dpo_beta``, …).
  Its ``hyperparameters`` crash it (it reads ``hyperparameters.epochs``, a field that does not exist:
  a 500), so ftctl sends epochs and batch size under ``Training``. ``learning_rate`` there is an
  absolute rate (default 5e-5), not OpenAI's multiplier: a manifest's multiplier is refused.
* Methods: supervised (``task: instruction_tuning``) and DPO (``task: dpo``, ``beta`` as
  ``Training.dpo_beta``); any model name (a Hugging Face model, fetched by the Ray job).

* Data: instruction tuning reads alpaca lines (``instruction``, ``input``, ``output``) and DPO
  ``system``/``question``/``chosen``/``rejected`` (``llm_on_ray/finetune/data_process.py``; README
  §3.2.5), not OpenAI's formats: ftctl checks a manifest's files in these (``datasets.opea_formats``).
  Without ``Training.epochs`` it trains one epoch (``TrainingConfig``'s default), batch size 2.
"""

from __future__ import annotations

from reconciler.providers.base import Provider

OPEA = Provider(
    name="opea",
    title="the OPEA fine-tuning service",
    models=None,
    methods=frozenset({"supervised", "dpo"}),
    suffix_supported=False,
    keeps_metadata=False,
    echoes_method=False,
    pauses=False,
    metadata_filter=False,
    statuses=frozenset({"pending", "running", "succeeded", "failed", "cancelled"}),
    graders=frozenset(),
    needs_key=False,
    dialect="opea",
    file_parts=False,
    example_base="http://HOST:8015/v1",
    data_formats={"supervised": "alpaca", "dpo": "opea-preference"},
    default_epochs=1,
    refused_fields={
        "validation_file": "does not read a validation file (it holds back 5% of the training file instead): "
                           "remove it",
        "integrations": "has no integrations (it reports to none or tensorboard): remove them",
        "metadata": "keeps no metadata (ftctl's own tags ride on the training file's name there): remove it",
        "method.hyperparameters.learning_rate_multiplier": "takes an absolute learning rate, not a multiplier "
                                                           "(its Training.learning_rate, 5e-5 by default): "
                                                           "remove it",
    },
)
