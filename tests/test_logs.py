"""Secrets are removed by a structlog processor, wherever they appear in an event."""

from __future__ import annotations

import pytest

from reconciler import logs


def test_registered_secret_is_redacted_everywhere(capsys: pytest.CaptureFixture[str]) -> None:
    secret = "sk-live-abcdef123456"
    logs.add_secret(secret)
    logs.configure("info")
    try:
        logs.get(name="bot", job_id="ftjob-1", action="create").info(
            "step", detail=f"sent key {secret}", nested={"headers": {"x": secret}}, api_key="anything")
    finally:
        logs.configure("warning")
    err = capsys.readouterr().err
    assert secret not in err
    assert "[REDACTED]" in err
    assert "name=bot" in err and "job_id=ftjob-1" in err and "action=create" in err
    assert logs.redact_text(f"Bearer {secret}") == "Bearer [REDACTED]"


def test_counts_named_like_tokens_are_not_secrets(capsys: pytest.CaptureFixture[str]) -> None:
    logs.configure("info")
    try:
        logs.get().info("estimate", tokens=563, trained_tokens=1689, access_token="abc", idempotency_key="ftctl-k")
    finally:
        logs.configure("warning")
    err = capsys.readouterr().err
    assert "tokens=563" in err and "trained_tokens=1689" in err and "idempotency_key=ftctl-k" in err
    assert "abc" not in err


def test_an_internal_error_shows_its_traceback_only_at_debug(monkeypatch: pytest.MonkeyPatch,
                                                            capsys: pytest.CaptureFixture[str]) -> None:
    from reconciler import cli
    from reconciler.session import desired

    secret = "sk-in-a-traceback-0987654321"
    logs.add_secret(secret)

    def broken(*args: object, **kwargs: object) -> None:
        raise RuntimeError(f"a bug near {secret}")

    monkeypatch.setattr(desired, "check_data", broken)
    for level, traceback in (("warning", False), ("debug", True)):
        monkeypatch.setattr("sys.argv", ["ftctl", "--log-level", level, "validate"])
        with pytest.raises(SystemExit) as done:
            cli.main()
        assert done.value.code == 1
        err = capsys.readouterr().err
        assert "ftctl: internal error: RuntimeError: a bug near [REDACTED]" in err
        assert ("Traceback (most recent call last)" in err) is traceback
        assert secret not in err
    logs.configure("warning")


@pytest.mark.parametrize(("said", "shown"), [
    ("Incorrect API key provided: sk-canary-7H...", "Incorrect API key provided: [REDACTED]..."),
    ("key sk-canary-7Hq2Zx9Lw4Rt8Np1 and sk-canary-7Hq2****Np1", "key [REDACTED] and [REDACTED]****Np1"),
    ("sk-canar", "[REDACTED]"),
    ("sk-cana and sk-proj- stay", "sk-cana and sk-proj- stay"),  # shorter than 8, another key's start
])
def test_a_masked_key_that_shows_the_keys_start_is_redacted(said: str, shown: str) -> None:
    """An API (or a proxy) quoting a key masked still shows its start: eight characters of it or more
    are redacted, wherever they stand."""
    logs.add_secret("sk-canary-7Hq2Zx9Lw4Rt8Np1")
    assert logs.redact_text(said) == shown


def test_the_keys_of_the_environment_are_secrets_from_the_start() -> None:
    """Registered when logging is configured, before any target is chosen: an offline command hides
    them too."""
    key = "sk-from-env-0123456789abcdef"
    assert logs.redact_text(key) == key
    logs.configure("warning", {"OPENAI_API_KEY": key, "HOME": "/home/me"})
    assert logs.redact_text(f"x {key[:12]}… y") == "x [REDACTED]… y"
    assert logs.redact_text("/home/me") == "/home/me"
