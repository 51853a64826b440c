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
