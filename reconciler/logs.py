"""structlog set-up. Secrets are removed by a processor, not by care at each call site. structlog is
imported when logging is configured or used, so that ``ftctl --version`` and ``--help`` start fast."""

from __future__ import annotations

import logging
import re
import sys
from collections.abc import Mapping, MutableMapping
from typing import Any

from reconciler.diagnostics import SetupError

_SECRETS: set[str] = set()
_SECRET_KEYS = re.compile(r"(?:^|[-_])(?:api[-_]?key|authorization|secret|password|token)$", re.IGNORECASE)
"""Keys whose value is a secret: ``api_key``, ``authorization``, ``access_token``… but not ``tokens`` or
``trained_tokens`` (counts), nor ``idempotency_key`` (not a secret, and useful in logs)."""
REDACTED = "[REDACTED]"


def add_secret(value: str | None) -> None:
    """Register a value (an API key) that must never be logged."""
    if value and len(value) >= 4:
        _SECRETS.add(value)


SHOWN_PREFIX = 8
"""The shortest start of a key that is redacted where it appears alone: an API that masks a key it
quotes (``sk-canary-7H…``, ``sk-proj-abcd****wxyz``) still shows its first characters, which narrow
the search for it; eight is the length of ``sk-proj-``, which says nothing, so the redaction costs no
useful text."""


def redact_text(text: str) -> str:
    """``text`` with every registered secret, and every start of one of ``SHOWN_PREFIX`` characters or
    more, replaced by ``[REDACTED]``."""
    for secret in _SECRETS:
        head = secret[:SHOWN_PREFIX]
        if head in text:
            text = _without(text, secret, head)
    return text


def _without(text: str, secret: str, head: str) -> str:
    """Each run of ``text`` that starts ``secret`` (at least ``head``) replaced, as far as it goes."""
    out, at = [], 0
    while (found := text.find(head, at)) >= 0:
        end = found + len(head)
        while end - found < len(secret) and end < len(text) and text[end] == secret[end - found]:
            end += 1
        out += [text[at:found], REDACTED]
        at = end
    return "".join([*out, text[at:]])


def _scrub(value: Any) -> Any:
    if isinstance(value, str):
        return redact_text(value)
    if isinstance(value, dict):
        return {k: REDACTED if isinstance(k, str) and _SECRET_KEYS.search(k) else _scrub(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return type(value)(_scrub(v) for v in value)
    return value


def redact(_: Any, __: str, event: MutableMapping[str, Any]) -> MutableMapping[str, Any]:
    return {k: REDACTED if _SECRET_KEYS.search(k) else _scrub(v) for k, v in event.items()}


LOG_LEVELS = ("debug", "info", "warning", "error")


def log_level(flag: str | None, env: Mapping[str, str]) -> str:
    """``--log-level``, else ``FTCTL_LOG``, else warning."""
    if flag is not None:
        return flag
    value = env.get("FTCTL_LOG") or "warning"
    if value.lower() not in LOG_LEVELS:
        raise SetupError(f"FTCTL_LOG={value!r} must be one of {', '.join(LOG_LEVELS)}")
    return value.lower()


_LEVEL = ["warning"]
_CONFIGURED = [False]


KEY_VARIABLES = ("OPENAI_API_KEY", "AZURE_OPENAI_API_KEY", "AZURE_OPENAI_AD_TOKEN")
"""Where keys come from: registered as secrets as soon as a command starts, before any target is
chosen, so that an offline command (``grade``, ``validate``) hides them too."""


def configure(level: str = "warning", env: Mapping[str, str] | None = None) -> None:
    """Set the level, and register the keys of ``env``; structlog itself is set up when something is
    first logged."""
    _LEVEL[0], _CONFIGURED[0] = level, False
    for name in KEY_VARIABLES:
        add_secret((env or {}).get(name))


def _setup() -> None:
    import structlog  # here, not at the top: commands that log nothing start without it

    level = _LEVEL[0]
    structlog.configure(
        processors=[
            structlog.contextvars.merge_contextvars,
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso"),
            structlog.processors.format_exc_info,  # a traceback becomes text before redaction sees it
            redact,
            structlog.dev.ConsoleRenderer(colors=False),
        ],
        wrapper_class=structlog.make_filtering_bound_logger(getattr(logging, level.upper(), logging.WARNING)),
        # sys.stderr is looked up per logger, not once: it may be replaced (tests, redirection).
        logger_factory=lambda *args: structlog.PrintLogger(file=sys.stderr),
        cache_logger_on_first_use=False,
    )


def get(**bound: Any) -> Any:
    import structlog

    if not _CONFIGURED[0]:
        _setup()
        _CONFIGURED[0] = True
    return structlog.get_logger("ftctl").bind(**bound)


def debug(event: str, **fields: Any) -> None:
    """A debug line. Below that level nothing is built and structlog is not imported: each HTTP
    request is one, and a plan's first request would otherwise wait for the import."""
    if _LEVEL[0] == "debug":
        get().debug(event, **fields)
