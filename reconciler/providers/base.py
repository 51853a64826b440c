"""What differs between the services ftctl talks to, as data: one ``Provider`` per kind of service.

Code elsewhere asks the provider instead of testing for Azure: which header carries the key, whether
the list endpoint filters by metadata, which statuses exist and what they mean, how long a suffix
may be, which graders exist, what the create request carries beyond OpenAI's fields, how a file is
sent, and what an error code means (``ErrorKind``); whether a job keeps its metadata and echoes its
method (else ftctl's identity rides on the training file's name: ``tagged_files``), whether jobs can
be paused, which manifest fields the service has no use for, and which dialect it speaks.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from reconciler.providers.statuses import OPENAI_STATUSES, Phase, phase_of

ErrorKind = Literal["quota", "rate_limit", "conflict", "invalid", "not_found"]
"""quota: refused until a job finishes or the day turns (deferred, never retried in a loop);
rate_limit: retry after a pause; conflict: the job is not in a state for that (re-read); invalid:
the request is wrong (fail); not_found."""


@dataclass(frozen=True)
class Provider:
    name: str
    title: str = ""
    """The service's name in messages ("Azure OpenAI")."""
    models: Mapping[str, frozenset[str]] | None = None
    """The base models it fine-tunes (catalog snapshots), each with its methods; None: whatever model
    it is given (a compatible service: it says so itself)."""
    training_types: Mapping[str, frozenset[str]] | None = None
    """Where a create must say how it trains (Azure's ``trainingType``): per model, the types offered."""
    suffix_chars: str | None = None
    """A regular expression a suffix must match in full, where the service is stricter than OpenAI."""
    suffix_supported: bool = True
    keeps_metadata: bool = True
    """Whether a job keeps the ``metadata`` it was created with (ftctl's identity tags ride on it)."""
    active_limit: int | None = None
    """Jobs a resource (not a stack) may have active at once; creates beyond wait (Azure: 1 + 20)."""
    active_limit_reason: str = ""
    ceiling_pauses: frozenset[str] = frozenset()
    """Methods whose jobs the service pauses itself at a cost ceiling: never resumed unasked."""
    key_header: Literal["authorization", "api-key"] = "authorization"
    metadata_filter: bool = True
    """Whether ``GET fine_tuning/jobs`` filters by ``metadata[k]=v`` on the server."""
    statuses: frozenset[str] = OPENAI_STATUSES
    """The statuses a job shows on this service (``statuses.PHASES`` says what each means)."""
    suffix_max: int = 64
    graders: frozenset[str] = frozenset({"string_check", "text_similarity", "python", "score_model", "multi",
                                         "label_model"})
    base_path: str = "/v1"
    """How the API base URL ends on this service (for the hint after a 404)."""
    example_base: str = "https://HOST/v1"
    """An API base URL of this service, for messages."""
    file_parts: bool = True
    """Whether files over 512 MB go through the Uploads API (else in one request)."""
    file_expiry_seconds: int | None = None
    """Sent as ``expires_after`` with each file, where the service requires it."""
    error_kinds: Mapping[str, ErrorKind] = field(default_factory=dict)
    create_fields: Callable[[Mapping[str, Any]], dict[str, Any]] = field(default=lambda options: {}, repr=False)
    """Fields of the create request beyond OpenAI's, from a manifest's ``provider_options``."""
    methods: frozenset[str] | None = None
    """Where it fine-tunes whatever model it is given (``models`` None): the methods it has; None: any."""
    echoes_method: bool = True
    """Whether a job shows the method it was created with (the tag round trip checks it, where it does)."""
    pauses: bool = True
    """Whether a job can be paused and resumed (``state: paused`` is refused where it cannot)."""
    refused_fields: Mapping[str, str] = field(default_factory=dict)
    """Manifest fields (dotted paths) it has no use for, each with why: a manifest that sets one must
    change (``validate --provider``, ``plan``, ``port``)."""
    method_notes: Mapping[str, str] = field(default_factory=dict)
    """Per method, what ``port`` tells about it there (what is unconfirmed, what differs)."""
    data_formats: Mapping[str, str] = field(default_factory=dict)
    """Per method, the format its training data must have where it is not OpenAI's (``datasets``)."""
    default_epochs: int | None = None
    """The epochs it trains for when none are given, where that is not OpenAI's "auto" rule."""
    needs_key: bool = True
    """Whether requests need a key (a self-hosted service may have no authentication at all)."""
    dialect: Literal["openai", "opea"] = "openai"
    """How its API is spoken: OpenAI's routes and shapes, or OPEA's finetuning service's (``api.opea``)."""

    def headers(self, key: str) -> dict[str, str]:
        if not key:  # a service without authentication, and no key given
            return {}
        return {"api-key": key} if self.key_header == "api-key" else {"Authorization": f"Bearer {key}"}

    def error_kind(self, status: int, code: str | None) -> ErrorKind | None:
        if code is not None and code in self.error_kinds:
            return self.error_kinds[code]
        by_status: dict[int, ErrorKind] = {429: "rate_limit", 409: "conflict", 404: "not_found"}
        return by_status.get(status)

    def known(self, status: str) -> bool:
        return status in self.statuses

    @property
    def label(self) -> str:
        return self.title or self.name

    def offers(self, model: str) -> frozenset[str] | None:
        """The methods it fine-tunes base ``model`` with (empty: not offered); None: it does not say."""
        if self.models is None:
            return None
        return self.models.get(model, frozenset())

    def phase(self, status: str) -> Phase:
        """What ``status`` means on this provider: ``unknown`` for a status it does not have."""
        return phase_of(status, self.statuses)
