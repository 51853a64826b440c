"""AWS Bedrock and OPEA's finetuning service, end to end: the real CLI against ``ftctl sandbox serve
--flavor bedrock|opea`` on a manual clock — create, list, state changes, and identity kept (a second
apply creates nothing) or refused (a target that drops it costs one job, never more).

* Bedrock: OpenAI's dialect with its own limits (two models, no suffix, no pause, Lambda graders).
* OPEA: a dialect of its own and no metadata at all; ftctl's identity rides on each job's training
  file name, so a job made by another client (any other file name) is never touched, a create whose
  answer is lost is found by that name instead of made twice, and a restart of the service (which
  forgets its jobs) is seen as it is: the jobs are gone, and the plan says it would create them.

What each flavour answers to requests ftctl never sends (the raw dialect) is in
``cases/dialects/*.json``: one exchange per entry, in order (``advance``: seconds that pass first).
"""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path
from typing import Any

import httpx
import pytest

from reliability.sandbox import SandboxProcess, clean_env
from tests.conftest import Serve
from tests.workspace import KEY, TRAIN, new_project, run_ftctl

pytestmark = pytest.mark.e2e
DIALECTS = Path(__file__).parent / "cases" / "dialects"
OPEA_DATA = Path(__file__).resolve().parent.parent / "examples" / "opea" / "data"
HF_MODEL = "Qwen/Qwen2.5-0.5B-Instruct"


class Target:
    """A project in ``root`` whose manifests (``m/``) run against ``server`` as ``provider``."""

    def __init__(self, root: Path, server: SandboxProcess, provider: str, key: bool = True) -> None:
        self.root, self.server, self.provider = root, server, provider
        self.env = clean_env(**({"OPENAI_API_KEY": KEY} if key else {}))
        self.manifests = new_project(root, "m")  # OpenAI's chat data in data/train.jsonl
        for data in OPEA_DATA.iterdir():  # OPEA's formats: data/instructions.jsonl, data/preferences.jsonl
            shutil.copy(data, self.manifests / "data" / data.name)

    def write(self, name: str, body: str, data: str = "train") -> None:
        (self.manifests / f"{name}.yaml").write_text(f"name: {name}\ntraining_file: data/{data}.jsonl\n{body}")

    def ftctl(self, *args: str) -> tuple[int, str]:
        """``ftctl ARGS m --provider P --api-base URL`` (validate is offline: no API base)."""
        target = [] if args[0] == "validate" else ["--api-base", self.server.url]
        done = run_ftctl([*args, "m", "--provider", self.provider, *target], self.root, self.env)
        return done.returncode, done.stdout + done.stderr


def _exchanges(server: SandboxProcess, flavour: str) -> int:
    """Play ``cases/dialects/FLAVOUR.json`` against ``server``: each request, and what it must answer."""
    saved: dict[str, Any] = {}
    played = 0
    for case in json.loads((DIALECTS / f"{flavour}.json").read_text())["exchanges"]:
        server.advance(case.get("advance", 0))  # seconds that pass first
        path = re.sub(r"\{(\w+)\}", lambda m: str(saved[m.group(1)]), case["path"])
        body = json.loads(re.sub(r"\{(\w+)\}", lambda m: str(saved[m.group(1)]), json.dumps(case.get("json"))))
        files = {"file": (case["upload"], TRAIN.read_bytes())} if "upload" in case else None
        answer = httpx.request(case["method"], server.base + path, json=body if not files else None, files=files,
                               data={"purpose": "fine-tune"} if files else None,
                               headers={"Authorization": f"Bearer {KEY}"} if case.get("key", True) else {})
        assert answer.status_code == case["status"], (case["why"], answer.status_code, answer.text)
        text = answer.text
        for fragment in case.get("contains", []):
            fragment = re.sub(r"\{(\w+)\}", lambda m: str(saved[m.group(1)]), fragment)
            assert fragment in text, (case["why"], fragment, text)
        for key in case.get("absent", []):
            assert key not in answer.json(), (case["why"], key, text)
        for name, key in case.get("save", {}).items():
            saved[name] = answer.json()[key]
        played += 1
    return played


# -- AWS Bedrock -------------------------------------------------------------------------------------------

def test_bedrock_creates_lists_cancels_and_keeps_identity(tmp_path: Path, serve: Serve) -> None:
    server = serve("--flavor", "bedrock", "--clock", "manual")
    t = Target(tmp_path / "p", server, "bedrock")
    t.write("bot", "model: gpt-oss-20b\nmethod: {type: supervised, hyperparameters: {n_epochs: 2}}\n"
                   "metadata: {team: support}\n")
    t.write("triage", "model: Qwen3-32B\nsuffix: triage\n")
    code, out = t.ftctl("validate")
    assert code == 1 and "m/triage.yaml:4: suffix: AWS Bedrock takes no suffix: remove it" in out, out
    t.write("triage", "model: Qwen3-32B\n")

    code, out = t.ftctl("apply", "--auto-approve")
    assert code == 0 and "Apply finished: 3 done" in out, out  # one upload (shared), two creates
    jobs = {j["metadata"]["ftctl-name"]: j for j in server.listing("fine_tuning/jobs")}
    assert sorted(jobs) == ["bot", "triage"] and jobs["bot"]["metadata"]["team"] == "support"
    assert {j["status"] for j in jobs.values()} == {"validating_files"}
    assert t.ftctl("plan", "--detailed-exitcode")[0] == 0  # identity kept: the live jobs match
    posts = server.stats()["POST /v1/fine_tuning/jobs"]
    code, out = t.ftctl("apply", "--auto-approve")
    assert code == 0 and "No changes." in out and server.stats()["POST /v1/fine_tuning/jobs"] == posts

    server.advance(12)  # validated (3 s) and queued (5 s): running now
    code, out = t.ftctl("status")
    assert code == 0 and re.search(r"bot +ftjob-\w+ +running", out), out
    t.write("bot", "model: gpt-oss-20b\nmethod: {type: supervised, hyperparameters: {n_epochs: 2}}\n"
                   "metadata: {team: support}\nstate: paused\n")
    code, out = t.ftctl("plan")
    assert code == 1 and "m/bot.yaml:6: state: AWS Bedrock cannot pause a job: use state active or cancelled" in out
    t.write("bot", "model: gpt-oss-20b\nmethod: {type: supervised, hyperparameters: {n_epochs: 2}}\n"
                   "metadata: {team: support}\nstate: cancelled\n")
    code, out = t.ftctl("apply", "--auto-approve")
    assert code == 0 and f"{jobs['bot']['id']} is cancelled" in out, out
    assert [j["status"] for j in server.listing("fine_tuning/jobs", **{"metadata[ftctl-name]": "bot"})] == \
        ["cancelled"]
    assert not [r for r in server.stats() if r.endswith(("/pause", "/resume"))]  # never asked


def test_bedrock_dropping_metadata_would_cost_one_job_never_more(tmp_path: Path, serve: Serve) -> None:
    """Whether Bedrock keeps metadata is unconfirmed: if it does not, the first create comes back
    without its tags, is cancelled at once, and nothing more is created there — on every apply."""
    server = serve("--flavor", "bedrock", "--clock", "manual", "--drop-fields", "metadata")
    t = Target(tmp_path / "p", server, "bedrock")
    for name in ("a", "b", "c"):
        t.write(name, "model: gpt-oss-20b\n")
    for _ in range(2):
        code, out = t.ftctl("apply", "--auto-approve")
        assert code == 1 and "the target drops metadata from create requests" in out, out
        assert [j["status"] for j in server.listing("fine_tuning/jobs")] == ["cancelled"]


def test_the_bedrock_flavour_answers_as_aws_documents(serve: Serve) -> None:
    assert _exchanges(serve("--flavor", "bedrock", "--clock", "manual"), "bedrock") >= 6


# -- OPEA's finetuning service ------------------------------------------------------------------------------

def _opea_jobs(server: SandboxProcess) -> list[dict[str, Any]]:
    return list(httpx.get(f"{server.url}/fine_tuning/jobs").json()["data"])


def _named(server: SandboxProcess, name: str) -> list[dict[str, Any]]:
    return [j for j in _opea_jobs(server) if f".{name}.v1-" in j["training_file"]]


def test_opea_creates_lists_cancels_by_file_name_and_never_touches_others(tmp_path: Path, serve: Serve) -> None:
    server = serve("--flavor", "opea", "--clock", "manual")
    theirs = httpx.post(f"{server.url}/files", data={"purpose": "fine-tune"},
                        files={"file": ("mine.jsonl", (OPEA_DATA / "instructions.jsonl").read_bytes())}).json()
    other = httpx.post(f"{server.url}/fine_tuning/jobs", json={"model": HF_MODEL, "training_file": theirs["filename"]})
    assert other.status_code == 200, other.text
    t = Target(tmp_path / "p", server, "opea", key=False)  # no key: the service has no authentication
    t.write("bot", f"model: {HF_MODEL}\nmethod: {{type: supervised, hyperparameters: {{n_epochs: 2}}}}\nseed: 7\n",
            "instructions")
    t.write("ranking", f"model: {HF_MODEL}\nmethod: {{type: dpo, hyperparameters: {{beta: 0.2}}}}\n", "preferences")

    code, out = t.ftctl("apply", "--auto-approve")
    assert code == 0 and "Apply finished: 4 done" in out, out  # an upload of its own for each job, two creates
    (bot,), (ranking,) = _named(server, "bot"), _named(server, "ranking")
    assert re.fullmatch(r"ftctl-[0-9a-f]{64}-default\.bot\.v1-[0-9a-f]{32}\.jsonl", bot["training_file"])
    assert bot["hyperparameters"]["n_epochs"] == 2 and bot["seed"] == 7  # sent as Training.epochs, seed a string
    assert bot["status"] == "running" and ranking["status"] == "running"
    assert t.ftctl("plan", "--detailed-exitcode")[0] == 0  # identity kept, through the file names
    posts = server.stats()["POST /v1/fine_tuning/jobs"]
    code, out = t.ftctl("apply", "--auto-approve")
    assert code == 0 and "No changes." in out and server.stats()["POST /v1/fine_tuning/jobs"] == posts

    server.advance(6)  # the service's first poll of Ray: waiting for resources
    code, out = t.ftctl("status")
    assert re.search(rf"bot +{bot['id']} +pending", out), out
    t.write("bot", f"model: {HF_MODEL}\nseed: 7\nstate: paused\n", "instructions")
    code, out = t.ftctl("plan")
    assert code == 1 and "state: the OPEA fine-tuning service cannot pause a job" in out, out
    t.write("ranking", f"model: {HF_MODEL}\nmethod: {{type: dpo, hyperparameters: {{beta: 0.2}}}}\n"
                       "state: cancelled\n", "preferences")
    (t.manifests / "bot.yaml").unlink()
    code, out = t.ftctl("apply", "--auto-approve", "--prune")
    assert code == 0, out
    assert f"{ranking['id']} is cancelled" in out and f"{bot['id']} is cancelled" in out  # bot: an orphan now
    assert {j["id"]: j["status"] for j in _opea_jobs(server)} == {
        other.json()["id"]: "pending", bot["id"]: "cancelled", ranking["id"]: "cancelled"}  # theirs: untouched
    assert "fine_tuning/jobs/cancel" in " ".join(server.stats())
    assert t.ftctl("plan", "--detailed-exitcode", "--prune")[0] == 0


def test_opea_a_create_whose_answer_is_lost_is_found_not_made_twice(tmp_path: Path, serve: Serve) -> None:
    server = serve("--flavor", "opea", "--clock", "manual")
    t = Target(tmp_path / "p", server, "opea")
    t.write("bot", f"model: {HF_MODEL}\n", "instructions")
    server.faults(1, kinds=["drop_after"], methods=["POST"], routes=["/v1/fine_tuning/jobs"])  # creates only
    code, out = t.ftctl("apply", "--auto-approve")
    server.faults(0)
    assert code == 0 and "(recovered after a lost answer)" in out, out
    assert server.stats()["POST /v1/fine_tuning/jobs"] == 1 and len(_named(server, "bot")) == 1
    assert t.ftctl("plan", "--detailed-exitcode")[0] == 0


def test_opea_forgets_its_jobs_when_it_restarts_and_the_plan_says_so(tmp_path: Path, serve: Serve) -> None:
    server = serve("--flavor", "opea", "--clock", "manual")
    t = Target(tmp_path / "p", server, "opea")
    t.write("bot", f"model: {HF_MODEL}\n", "instructions")
    assert t.ftctl("apply", "--auto-approve")[0] == 0 and len(_opea_jobs(server)) == 1
    server.stop()
    with SandboxProcess(server.db, "--flavor", "opea", "--clock", "manual") as again:
        assert _opea_jobs(again) == []  # jobs live in the service's memory; its files stay on disk
        t.server = again
        code, out = t.ftctl("plan", "--detailed-exitcode")
        assert code == 2 and "+ create   bot — no job exists yet" in out, out


def test_the_opea_flavour_answers_as_its_code_does(serve: Serve) -> None:
    assert _exchanges(serve("--flavor", "opea", "--clock", "manual"), "opea") >= 10
