"""Providers as they really behave, end to end: the real CLI against ``ftctl sandbox serve`` in each
flavour and with each quirk, on a manual clock (no test waits for real time to pass, but the
polling of ``--wait``).

* Azure: paths under /openai/v1, ``api-key``, ``pending``, pause through ``pausing``, resume
  through ``resuming``, no metadata filter, replace, prune, convergence; every answer checked
  against Azure's published description.
* A gateway that drops ``metadata`` and ``method``: no job is ever left running.
* An active-job limit of 2 with 5 manifests, and a daily limit: creates deferred, never a storm.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
import pytest

from reliability.sandbox import SandboxProcess
from tests.conftest import Serve
from tests.openapi import validate_response
from tests.workspace import KEY, TRAIN, Project, run_while_time_passes

pytestmark = pytest.mark.e2e


@pytest.fixture
def azure(serve: Serve) -> SandboxProcess:
    return serve("--flavor", "azure", "--clock", "manual")


def test_azure_pending_pausing_resuming_replace_prune_and_converge(tmp_path: Path, azure: SandboxProcess) -> None:
    p = Project(tmp_path / "p", azure, "--provider", "azure", key_variable="AZURE_OPENAI_API_KEY")
    training_type = "provider_options: {azure: {training_type: globalstandard}}\n"
    p.write("bot", extra=training_type)
    created = p.ftctl("apply", "--auto-approve")
    assert created.returncode == 0, created.stdout + created.stderr  # trainingType sent, and accepted
    assert p.statuses() == {"bot": ["pending"]}
    assert p.ftctl("plan", "--detailed-exitcode").returncode == 0  # pending is in progress: no drift

    azure.advance(60)
    p.write("bot", state="paused", extra=training_type)
    paused = p.ftctl("apply", "--auto-approve")
    assert paused.returncode == 0, paused.stdout
    assert p.statuses() == {"bot": ["pausing"]}
    assert p.ftctl("plan", "--detailed-exitcode").returncode == 0  # pausing, wanted paused: nothing
    azure.advance(10)
    assert p.statuses() == {"bot": ["paused"]}

    p.write("bot", state="active", extra=training_type)
    resumed = p.ftctl("apply", "--auto-approve")
    assert resumed.returncode == 0 and "resume" in resumed.stdout
    assert p.statuses() == {"bot": ["resuming"]}
    azure.advance(10)
    assert p.statuses() == {"bot": ["running"]}

    p.write("bot", epochs=4, extra=training_type)
    replaced = p.ftctl("apply", "--auto-approve")
    assert replaced.returncode == 0, replaced.stdout
    assert "~ method.hyperparameters.n_epochs: 3 → 4" in replaced.stdout
    assert p.statuses() == {"bot": ["pending", "cancelled"]}

    p.write("keep", state="cancelled")
    (p.root / "m" / "bot.yaml").unlink()
    pruned = p.ftctl("apply", "--auto-approve", "--prune")
    assert pruned.returncode == 0, pruned.stdout
    assert p.statuses() == {"bot": ["cancelled", "cancelled"]}
    assert p.ftctl("plan", "--detailed-exitcode").returncode == 0


def test_azure_flavour_answers_fit_azures_description(tmp_path: Path, azure: SandboxProcess) -> None:
    headers = {"api-key": KEY}
    url = azure.url
    data = TRAIN.read_bytes()
    checked: list[str] = []

    def check(response: httpx.Response, path: str) -> Any:
        method = response.request.method
        checked.append(validate_response(method, path, response.status_code, response.json(), "azure"))
        return response.json()

    no_expiry = httpx.post(f"{url}/files", headers=headers, files={"file": ("t.jsonl", data)},
                           data={"purpose": "fine-tune"})
    assert no_expiry.status_code == 400 and check(no_expiry, "/openai/v1/files")["error"]["code"] == "invalidPayload"
    file = check(httpx.post(f"{url}/files", headers=headers, files={"file": ("t.jsonl", data)},
                            data={"purpose": "fine-tune", "expires_after[anchor]": "created_at",
                                  "expires_after[seconds]": "86400"}), "/openai/v1/files")
    check(httpx.get(f"{url}/files", headers=headers), "/openai/v1/files")
    check(httpx.get(f"{url}/files/{file['id']}", headers=headers), f"/openai/v1/files/{file['id']}")
    body = {"model": "gpt-4.1-mini", "training_file": file["id"], "suffix": "x" * 41}
    too_long = httpx.post(f"{url}/fine_tuning/jobs", headers=headers, json=body)
    assert too_long.status_code == 400 and check(too_long, "/openai/v1/fine_tuning/jobs")
    bad_type = httpx.post(f"{url}/fine_tuning/jobs", headers=headers, json={**body, "trainingType": "premium"})
    assert bad_type.status_code == 400 and check(bad_type, "/openai/v1/fine_tuning/jobs")["error"]["param"] == \
        "trainingType"
    job = check(httpx.post(f"{url}/fine_tuning/jobs", headers=headers, json={**body, "suffix": "ok",
                                                                            "metadata": {"k": "v"},
                                                                            "trainingType": "developer"}),
                "/openai/v1/fine_tuning/jobs")
    assert job["status"] == "pending"
    jobs = f"/openai/v1/fine_tuning/jobs/{job['id']}"
    early = httpx.post(f"{azure.base}{jobs}/pause", headers=headers)
    assert early.status_code == 409 and check(early, f"{jobs}/pause")["error"]["code"] == "unexpectedEntityState"
    azure.advance(60)
    check(httpx.post(f"{azure.base}{jobs}/pause", headers=headers), f"{jobs}/pause")
    check(httpx.get(f"{azure.base}{jobs}", headers=headers), jobs)
    listed = check(httpx.get(f"{url}/fine_tuning/jobs", headers=headers, params={"metadata[k]": "other"}),
                   "/openai/v1/fine_tuning/jobs")
    assert [j["id"] for j in listed["data"]] == [job["id"]]  # the metadata filter is ignored, as on Azure
    check(httpx.get(f"{azure.base}{jobs}/events", headers=headers), f"{jobs}/events")
    check(httpx.get(f"{azure.base}{jobs}/checkpoints", headers=headers), f"{jobs}/checkpoints")
    check(httpx.post(f"{azure.base}{jobs}/cancel", headers=headers), f"{jobs}/cancel")
    assert httpx.post(f"{url}/uploads", headers=headers, json={}).status_code == 404  # no Uploads API
    assert len(checked) == 14


def test_a_gateway_that_drops_fields_leaves_no_job_running(tmp_path: Path, serve: Serve) -> None:
    server = serve("--clock", "manual", "--drop-fields", "metadata,method")
    p = Project(tmp_path / "p", server)
    p.write("a", "b")
    for _ in range(2):
        done = p.ftctl("apply", "--auto-approve", "--parallelism", "1")
        assert done.returncode == 1
        assert "the target drops metadata, method" in done.stdout
        assert "  ✗ create   b: not created: the target drops metadata" in done.stdout  # after a, nothing more
        # one job in all, cancelled at once: the second apply's create is the first's again (its idempotency key)
        assert [j["status"] for j in p.jobs()] == ["cancelled"]


def test_an_active_job_limit_defers_creates_and_later_applies_make_them(tmp_path: Path, serve: Serve) -> None:
    server = serve("--clock", "manual", "--max-active-jobs", "2")
    p = Project(tmp_path / "p", server)
    p.write(*"abcde")
    first = p.ftctl("apply", "--auto-approve", "--parallelism", "1")
    assert first.returncode == 0, first.stdout + first.stderr  # deferred is not a failure
    assert "Apply finished: 3 done, 0 already done, 3 deferred, 0 failed." in first.stdout
    assert "refused for a quota" in first.stdout
    stats = server.stats()
    assert stats["POST /v1/fine_tuning/jobs"] == 5  # one try each: no retry storm
    assert p.ftctl("plan").stdout.count("+ create") == 3  # the next plan shows them pending
    for _ in range(2):
        server.advance(10_000)  # the running jobs finish
        assert p.ftctl("apply", "--auto-approve", "--parallelism", "1").returncode == 0
    assert sorted(p.statuses()) == list("abcde")
    assert p.ftctl("plan", "--detailed-exitcode").returncode == 0


def test_apply_wait_creates_as_slots_free_up(tmp_path: Path, serve: Serve) -> None:
    server = serve("--clock", "manual")
    p = Project(tmp_path / "p", server)
    p.write(*"abcde")
    done = run_while_time_passes(server, ["apply", "m", "--auto-approve", "--wait", "--max-active-jobs", "2",
                                          "--parallelism", "1", "--timeout", "2m", "--poll-interval", "0.2s",
                                          "--api-base", server.url], p.root, step=300, every=0.5, limit=120)
    assert done.returncode == 0, done.stdout + done.stderr  # time passes for the jobs only when the test says so
    assert "Apply finished: 6 done, 0 already done, 0 deferred, 0 failed." in done.stdout
    assert sorted(p.statuses()) == list("abcde")


def test_a_daily_limit_defers_until_the_next_day(tmp_path: Path, serve: Serve) -> None:
    server = serve("--clock", "manual", "--daily-limit", "2")
    p = Project(tmp_path / "p", server)
    p.write(*"abc")
    first = p.ftctl("apply", "--auto-approve", "--parallelism", "1")
    assert first.returncode == 0, first.stdout + first.stderr
    assert "  … create   c: refused for a quota (HTTP 429: This fine-tune request has been rate-limited. Your " \
           "organization has reached the maximum of 2 fine-tuning requests per day.): a later apply creates it (or " \
           "apply --wait)" in first.stdout.splitlines()
    assert "Apply finished: 3 done, 0 already done, 1 deferred, 0 failed." in first.stdout
    again = p.ftctl("apply", "--auto-approve")
    assert "1 deferred" in again.stdout
    server.advance(86_400)
    assert p.ftctl("apply", "--auto-approve").returncode == 0
    assert sorted(p.statuses()) == list("abc")


def test_a_gateway_that_drops_only_the_method_costs_one_job_then_plan_stops_asking(tmp_path: Path,
                                                                                   serve: Serve) -> None:
    server = serve("--clock", "manual", "--drop-fields", "method")
    p = Project(tmp_path / "p", server)
    p.write("a", "b", "c")
    first = p.ftctl("apply", "--auto-approve")  # parallelism 4: the first create goes alone
    assert first.returncode == 1 and "the target drops method.hyperparameters" in first.stdout
    assert first.stdout.count("not created: the target drops") == 2
    assert [j["status"] for j in p.jobs()] == ["cancelled"]
    again = p.ftctl("plan", "--detailed-exitcode")  # nothing more is asked of that target
    assert again.returncode == 2, again.stdout  # failed: the live jobs do not match
    assert "the target dropped method.hyperparameters from this job's create request" in again.stdout
    assert again.stdout.count("not planned: the target drops method.hyperparameters (job ftjob-") == 2
    assert p.ftctl("apply", "--auto-approve").returncode == 0 and len(p.jobs()) == 1
