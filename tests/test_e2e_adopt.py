"""Adopting jobs that exist already (SPEC §9), end to end: another team's job created over plain
HTTP (as the openai SDK would), ``ftctl import`` writing a manifest for it, and plans against it."""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path
from typing import Any

import httpx
import pytest

from reliability.sandbox import SandboxProcess, clean_env
from tests.workspace import KEY, TRAIN, Project, run_ftctl

pytestmark = pytest.mark.e2e
HEADERS = {"Authorization": f"Bearer {KEY}"}


def _their_job(server: SandboxProcess, **extra: Any) -> dict[str, Any]:
    upload = httpx.post(f"{server.url}/files", headers=HEADERS, data={"purpose": "fine-tune"},
                        files={"file": ("train.jsonl", TRAIN.read_bytes())}).json()
    body = {"model": "gpt-4o-mini", "training_file": upload["id"], "seed": 7, "metadata": {"team": "legacy"},
            "method": {"type": "supervised", "supervised": {"hyperparameters": {"n_epochs": 2}}}, **extra}
    return dict(httpx.post(f"{server.url}/fine_tuning/jobs", headers=HEADERS, json=body).json())


def test_imported_manifests_validate_and_plan_as_no_change(tmp_path: Path, server: SandboxProcess) -> None:
    p = Project(tmp_path / "p", server)
    first, second = _their_job(server, suffix="legacy-bot"), _their_job(server)
    server.advance(10)  # both running
    wrong = p.ftctl("import", first["id"])  # Project.ftctl adds the path "m", not a job ID
    assert wrong.returncode == 1 and "Error: 'm' is not a fine-tuning job ID (ftjob-…)" in wrong.stderr

    def ftctl(*args: str) -> subprocess.CompletedProcess[str]:  # arguments that are job IDs or names
        return p.ftctl(*args, paths=False)

    out = tmp_path / "p" / "adopted"
    done = ftctl("import", first["id"], second["id"], "--out", str(out))
    assert done.returncode == 0, done.stderr
    written = sorted(out.glob("*.yaml"))
    assert [f.name for f in written] == [f"job-{second['id'].removeprefix('ftjob-').lower()}.yaml", "legacy-bot.yaml"]
    text = (out / "legacy-bot.yaml").read_text()
    assert text.startswith(f"# Imported from {first['id']} (running) by ftctl import")
    for line in ("model: gpt-4o-mini-2024-07-18", f"training_file: {first['training_file']}", "    n_epochs: 2",
                 "seed: 7", "suffix: legacy-bot", "  team: legacy", "state: active", f"job_id: {first['id']}"):
        assert f"\n{line}\n" in text, line
    again = ftctl("import", first["id"], "--out", str(out))
    assert again.returncode == 1 and "exists already: nothing was written" in again.stderr

    (p.root / "m").rename(p.root / "old")
    out.rename(p.root / "m")
    valid = run_ftctl(["validate", "m"], p.root, clean_env())
    assert valid.returncode == 0 and valid.stdout.startswith("2 manifests in 2 files valid"), valid.stderr
    plan = p.ftctl("plan", "--detailed-exitcode")
    assert plan.returncode == 0 and "No changes." in plan.stdout, plan.stdout
    # the commands that read jobs see adopted ones under their manifest's name (manifests from ftctl.yaml)
    (p.root / "ftctl.yaml").write_text("paths: [m]\n")
    status = p.ftctl("status")
    assert re.search(rf"^legacy-bot +{first['id']} +running ", status.stdout, re.M), status.stdout
    outputs = ftctl("outputs", "legacy-bot", "-o", "json")
    assert json.loads(outputs.stdout)["outputs"]["legacy-bot"]["job_id"] == first["id"], outputs.stderr
    assert ftctl("logs", "legacy-bot").stdout.splitlines()[0].endswith(f"Created fine-tuning job: {first['id']}")
    assert second["id"] in ftctl("logs", second["id"]).stdout  # any job, by its ID
    twice = ftctl("import", first["id"], "--out", "more")
    assert twice.returncode == 1 and f"{first['id']} is adopted already, by the manifest legacy-bot" in twice.stderr
    assert not (p.root / "more").exists()

    # state acts on an adopted job; a different value is reported, never replaced
    path = p.root / "m" / "legacy-bot.yaml"
    path.write_text(path.read_text().replace("state: active", "state: paused").replace("n_epochs: 2", "n_epochs: 4"))
    plan = p.ftctl("plan", "--detailed-exitcode")
    assert plan.returncode == 2
    assert re.search(rf"pause +legacy-bot .*{first['id']}", plan.stdout), plan.stdout
    assert "the adopted job differs from the manifest in method.hyperparameters.n_epochs" in plan.stdout
    assert "0 to replace, 0 to create, 1 to pause" in plan.stdout
    assert p.ftctl("apply", "--auto-approve").returncode == 0
    jobs = {j["id"]: j for j in p.jobs()}
    assert len(jobs) == 2 and jobs[first["id"]]["status"] == "paused"
    assert jobs[first["id"]]["metadata"] == {"team": "legacy"}  # adopted, not tagged: nothing else changed

    path.write_text(re.sub(r"job_id: .*", "job_id: ftjob-gone", path.read_text()))
    missing = p.ftctl("plan")
    assert missing.returncode == 1
    job_line = next(i for i, x in enumerate(path.read_text().splitlines(), 1) if x.startswith("job_id:"))
    assert missing.stderr.startswith(f"Error: m/legacy-bot.yaml:{job_line}: job_id: ftjob-gone was not found on ")
