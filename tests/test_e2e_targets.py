"""The targets of 2027, end to end: the real CLI against ``ftctl sandbox serve`` in each flavour on a
manual clock.

* The lifecycle table: on 2027-01-07 a create on OpenAI is refused before anything is written,
  naming 2027-01-06 and its source, while the same manifests plan and apply on the Azure flavour.
* Azure as it is: ``trainingType`` always sent (the manifest's, else ftctl.yaml's, else an error that
  names both; without it the service answers that the model does not support fine-tuning), one
  running job and 20 queued per resource (apply defers the rest, and says so), fine-tuned models
  named ``BASE.ft-ID``, and a reinforcement job paused by the service at its cost ceiling resumed
  only with ``apply --resume NAME``.
"""

from __future__ import annotations

import re
from pathlib import Path

import httpx
import pytest

from reliability.sandbox import SandboxProcess, clean_env
from tests.conftest import Serve
from tests.workspace import KEY, Project, run_ftctl

pytestmark = pytest.mark.e2e
TRIAGE_DATA = Path(__file__).resolve().parent.parent / "manifests" / "data" / "triage" / "train.jsonl"
GLOBAL = "provider_options: {azure: {training_type: globalstandard}}\n"


@pytest.fixture
def azure(serve: Serve) -> SandboxProcess:
    return serve("--flavor", "azure", "--clock", "manual")


def _run(p: Project, *args: str, today: str | None = None) -> tuple[int, str, str]:
    env = clean_env(**p.key, **({"FTCTL_TODAY": today} if today else {}))
    done = run_ftctl([*args, "m", "--api-base", p.server.url, *p.flags], p.root, env)
    return done.returncode, done.stdout, done.stderr


def test_after_openais_end_of_fine_tuning_a_create_is_refused_and_azure_takes_the_same_manifests(
        tmp_path: Path, serve: Serve, azure: SandboxProcess) -> None:
    openai = serve("--clock", "manual")
    on_openai = Project(tmp_path / "o", openai, "--provider", "openai")
    on_openai.write("bot", extra=GLOBAL)
    code, out, err = _run(on_openai, "plan", today="2027-01-07")
    assert code == 1 and re.search(r"m/bot\.yaml:\d+: model: create of bot: OpenAI stopped creating fine-tuning "
                                   r"jobs on 2027-01-06 \(source: https://developers\.openai\.com/api/docs/"
                                   r"deprecations\); nothing was sent", err), err
    code, out, err = _run(on_openai, "apply", "--auto-approve", today="2027-01-07")
    assert code == 1 and "OpenAI stopped creating fine-tuning jobs on 2027-01-06" in err
    assert not [route for route in openai.stats() if route.startswith("POST")]  # nothing written
    code, out, err = _run(on_openai, "plan", today="2026-12-20")  # 17 days before: a warning, and the plan
    assert code == 0 and "OpenAI stops creating fine-tuning jobs on 2027-01-06, in 17 days" in err

    on_azure = Project(tmp_path / "a", azure, "--provider", "azure", key_variable="AZURE_OPENAI_API_KEY")
    on_azure.write("bot", extra=GLOBAL)
    code, out, err = _run(on_azure, "apply", "--auto-approve", today="2027-01-07")
    assert code == 0, out + err
    assert on_azure.statuses() == {"bot": ["pending"]}


def test_azure_needs_a_training_type_from_the_manifest_or_the_project(tmp_path: Path, azure: SandboxProcess) -> None:
    raw = httpx.post(f"{azure.url}/fine_tuning/jobs", headers={"api-key": KEY},
                     json={"model": "gpt-4.1-mini", "training_file": "file-x"})
    assert raw.status_code == 400 and raw.json()["error"]["message"] == (
        "The specified base model does not support fine-tuning.")  # Azure's own, misleading, answer
    p = Project(tmp_path / "p", azure, "--provider", "azure", key_variable="AZURE_OPENAI_API_KEY")
    p.write("bot")
    code, out, err = _run(p, "plan")
    assert code == 1 and "m/bot.yaml:1: provider_options.azure.training_type: Azure OpenAI needs a training type " \
                         "with every create" in err and "target.azure.training_type in ftctl.yaml" in err
    (p.root / "ftctl.yaml").write_text("target:\n  azure:\n    training_type: standard\n")
    code, out, err = _run(p, "apply", "--auto-approve")
    assert code == 0, out + err  # ftctl.yaml's training type sent with the create, and accepted
    assert "provider_options:\n          azure: {training_type: standard}" in out  # and shown to the reviewer


def test_azure_runs_one_job_queues_twenty_and_apply_defers_the_rest(tmp_path: Path, azure: SandboxProcess) -> None:
    headers = {"api-key": KEY}
    upload = httpx.post(f"{azure.url}/files", headers=headers, data={
        "purpose": "fine-tune", "expires_after[anchor]": "created_at", "expires_after[seconds]": "86400"},
        files={"file": ("t.jsonl", (Path(__file__).resolve().parent.parent / "manifests" / "data" / "support" /
                                    "train.jsonl").read_bytes())}).json()
    body = {"model": "gpt-4.1-mini", "training_file": upload["id"], "trainingType": "globalstandard"}
    for _ in range(20):  # another team's jobs on the same resource
        assert httpx.post(f"{azure.url}/fine_tuning/jobs", headers=headers, json=body).status_code == 200
    azure.advance(30)
    statuses = [j["status"] for j in azure.listing("fine_tuning/jobs")]
    assert statuses.count("running") == 1 and statuses.count("pending") == 19  # one runs, the others queue
    p = Project(tmp_path / "p", azure, "--provider", "azure", key_variable="AZURE_OPENAI_API_KEY")
    p.write("a", "b", extra=GLOBAL)
    code, out, err = _run(p, "plan")
    assert code == 0 and ("note: 20 jobs of the resource are active and Azure OpenAI's limit per resource "
                          "(1 running, 20 queued) allows 21: 1 of the 2 new jobs wait for a slot") in err
    code, out, err = _run(p, "apply", "--auto-approve", "--parallelism", "1")
    assert code == 0, out + err
    assert "✓ create   a: created" in out
    assert ("… create   b: 21 jobs of the resource are active and Azure OpenAI's limit per resource (1 running, "
            "20 queued) is 21: a later apply creates it (or apply --wait)") in out
    assert p.statuses()["a"] == ["pending"] and "b" not in p.statuses()
    refused = httpx.post(f"{azure.url}/fine_tuning/jobs", headers=headers, json=body)  # the flavour's own limit
    assert refused.status_code == 429 and refused.json()["error"]["code"] == "quotaExceeded"  # Azure's camelCase
    assert len(azure.listing("fine_tuning/jobs")) == 21  # nothing stored for the refused create


def test_azure_names_models_base_ft_id_and_a_job_paused_at_its_cost_ceiling_waits_for_resume(
        tmp_path: Path, azure: SandboxProcess) -> None:
    p = Project(tmp_path / "p", azure, "--provider", "azure", key_variable="AZURE_OPENAI_API_KEY")
    p.write("bot", model="gpt-4o-mini", extra=GLOBAL)
    (p.manifests / "data" / "triage.jsonl").write_bytes(TRIAGE_DATA.read_bytes())
    (p.manifests / "triage.yaml").write_text(
        "name: triage\nmodel: o4-mini\ntraining_file: data/triage.jsonl\nprovider_options: {azure: {training_type: "
        "globalstandard}}\nmethod:\n  type: reinforcement\n  grader: {type: string_check, name: exact, input: "
        "'{{sample.output_text}}', reference: '{{item.label}}', operation: eq}\n")
    code, out, err = _run(p, "apply", "--auto-approve")
    assert code == 0, out + err
    azure.advance(400)  # bot has succeeded; triage ran half-way and was paused by the service
    jobs = {j["metadata"]["ftctl-name"]: j for j in p.jobs()}
    assert re.fullmatch(r"gpt-4o-mini-2024-07-18\.ft-[0-9a-f]{32}", jobs["bot"]["fine_tuned_model"])
    assert jobs["bot"]["user_provided_suffix"] == "s-bot" and "suffix" not in jobs["bot"]
    assert jobs["triage"]["status"] == "paused"
    events = azure.listing(f"fine_tuning/jobs/{jobs['triage']['id']}/events")
    assert any("reached the cost limit of $5,000" in e["message"] for e in events)
    code, out, err = _run(p, "plan", "--detailed-exitcode")
    assert code == 0 and ("not resumed: Azure OpenAI pauses a reinforcement job itself once it reaches its cost "
                          "ceiling, and a resumed job bills on with no ceiling; check its checkpoints, then apply "
                          "--resume triage to resume it") in out
    code, out, err = _run(p, "apply", "--auto-approve", "--resume", "triage")
    assert code == 0 and "resume   triage" in out, out + err
    assert {j["metadata"]["ftctl-name"]: j["status"] for j in p.jobs()}["triage"] == "resuming"


def test_status_and_outputs_warn_before_a_fine_tuned_model_stops_serving(tmp_path: Path, serve: Serve) -> None:
    openai = serve("--clock", "manual")
    p = Project(tmp_path / "o", openai, "--provider", "openai")
    p.write("bot", model="gpt-4o-mini")
    assert _run(p, "apply", "--auto-approve", today="2026-12-06")[0] == 0
    openai.advance(3600)  # the job succeeds: its model is served until its base shuts down (2027-01-14)
    [job] = openai.listing("fine_tuning/jobs")
    model = job["fine_tuned_model"]
    assert job["status"] == "succeeded" and model.startswith("ft:gpt-4o-mini-2024-07-18:")
    for command in ("status", "outputs"):
        def run(today: str, command: str = command) -> str:
            env = clean_env(**p.key, FTCTL_TODAY=today)
            done = run_ftctl([command, "--api-base", openai.url, "--provider", "openai"], p.root, env)
            assert done.returncode == 0, done.stderr
            return done.stderr
        assert run("2026-12-06") == ""  # 39 days before: nothing yet
        assert f"warning: OpenAI stops serving {model} on 2027-01-14, in 13 days (source: https://" in run("2027-01-01")
        assert f"warning: OpenAI stopped serving {model} on 2027-01-14 (source:" in run("2027-01-15")


def test_validate_warns_within_thirty_days_of_the_end_of_training_and_refuses_after(tmp_path: Path) -> None:
    (tmp_path / ".git").mkdir()
    (tmp_path / "bot.yaml").write_text("name: bot\nmodel: gpt-4.1-mini\ntraining_file: file-abc\n")

    def validate(today: str) -> tuple[int, str]:
        done = run_ftctl(["validate", "bot.yaml", "--provider", "openai"], tmp_path, clean_env(FTCTL_TODAY=today))
        return done.returncode, done.stderr

    assert validate("2026-12-06") == (0, "")  # 31 days before
    code, err = validate("2026-12-27")
    assert code == 0 and err.startswith("bot.yaml:2: model: warning: OpenAI stops creating fine-tuning jobs on "
                                        "2027-01-06, in "
                                        "10 days (source: https://developers.openai.com/api/docs/deprecations)"), err
    code, err = validate("2027-01-06")
    assert code == 1 and "bot.yaml:2: model: OpenAI stopped creating fine-tuning jobs on 2027-01-06" in err, err
