"""ftctl.yaml (SPEC §8): strict like a manifest, found from any subdirectory, below flags and env.

Each file under cases/config/ is a project config whose leading ``# expect: LINE: FIELD: message``
comments list every problem it must give (none: it is valid). Adding a case is adding a file.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

from reconciler.diagnostics import InputError
from reconciler.session.config import load_config
from reconciler.session.settings import build
from reliability.sandbox import clean_env
from tests.workspace import run_ftctl

CASES = sorted((Path(__file__).parent / "cases" / "config").glob("*.yaml"))


def _expectations(path: Path) -> list[str]:
    return [line.removeprefix("# expect: ").strip() for line in path.read_text().splitlines()
            if line.startswith("# expect: ")]


@pytest.mark.parametrize("case", CASES, ids=[c.stem for c in CASES])
def test_config_case(case: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    shutil.copy(case, tmp_path / "ftctl.yaml")
    (tmp_path / "manifests").mkdir()  # the paths the cases name exist, but 'nope'
    monkeypatch.chdir(tmp_path)
    expected = _expectations(case)
    if not expected:
        config, path = load_config(tmp_path)
        assert path == tmp_path / "ftctl.yaml"
        written = config.model_dump(mode="json", exclude_defaults=True, by_alias=True)
        assert written == yaml.safe_load(case.read_text())  # every value read as written
        return
    with pytest.raises(InputError) as caught:
        load_config(tmp_path)
    got = [str(d) for d in caught.value.diagnostics]
    for want in expected:
        assert any(f"ftctl.yaml:{want}" in g for g in got), f"expected {want!r} in {got}"
    assert len(got) == len(expected), f"unexpected extra problems: {got}"


def _project(tmp_path: Path, config: str) -> Path:
    (tmp_path / "ftctl.yaml").write_text(config)
    (tmp_path / "jobs").mkdir()
    (tmp_path / "jobs" / "bot.yaml").write_text("name: bot\nmodel: gpt-4o-mini\ntraining_file: file-abc\n")
    (tmp_path / "src" / "deep").mkdir(parents=True)
    return tmp_path / "src" / "deep"


def test_precedence_flag_over_environment_over_config_over_default(tmp_path: Path) -> None:
    deep = _project(tmp_path, "stack: from-config\npaths: [jobs]\ntarget:\n  provider: azure\n"
                              "  api_base: https://acme.openai.azure.com/openai/v1\nlimits:\n  max_active_jobs: 3\n")
    s = build({}, deep)
    assert (s.stack, s.stack_from, s.api_base, s.api_base_from) == (
        "from-config", "config", "https://acme.openai.azure.com/openai/v1", "config")
    assert (s.provider, s.max_active_jobs, s.paths) == ("azure", 3, (tmp_path.resolve() / "jobs",))
    env = {"FTCTL_STACK": "from-env", "OPENAI_BASE_URL": "https://env.example/v1", "FTCTL_PROVIDER": "compatible",
           "FTCTL_MAX_ACTIVE_JOBS": "5"}
    s = build(env, deep)
    assert (s.stack, s.api_base, s.provider, s.max_active_jobs) == ("from-env", "https://env.example/v1",
                                                                    "compatible", 5)
    s = build(env, deep, stack="from-flag", api_base="https://flag.example/v1", provider="openai")
    assert (s.stack, s.api_base, s.provider) == ("from-flag", "https://flag.example/v1", "openai")
    assert build({}, deep, sandbox=True).provider is None  # the embedded sandbox speaks OpenAI's dialect
    # ftctl.yaml's provider describes ftctl.yaml's API base, not one given by a flag or the environment
    elsewhere = build({"OPENAI_BASE_URL": "https://api.openai.com/v1"}, deep)
    assert (elsewhere.provider, elsewhere.profile.name) == (None, "openai")
    assert build({}, deep, api_base="https://gw.example/v1").profile.name == "compatible"
    assert build({}, deep, offline=True).provider == "azure"  # validate checks ftctl.yaml's provider's limits
    (tmp_path / "b").mkdir()
    no_base = _project(tmp_path / "b", "target:\n  provider: azure\n")
    assert build({"OPENAI_BASE_URL": "https://acme.openai.azure.com/openai/v1"}, no_base).provider == "azure"


def _ftctl(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return run_ftctl(list(args), cwd, clean_env(), timeout=120)


def test_every_command_finds_the_config_from_a_subdirectory(tmp_path: Path) -> None:
    deep = _project(tmp_path, "stack: from-config\npaths: [jobs]\n")
    done = _ftctl("validate", cwd=deep)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "1 manifest in 1 file valid; 0 data files with 0 examples checked."
    done = _ftctl("plan", "--sandbox", cwd=deep)
    assert done.returncode == 0, done.stderr  # the config's stack and paths; the sandbox at the project root
    first = done.stdout.splitlines()[0]
    assert first == 'ftctl plan for stack "from-config" on the embedded sandbox (.ftctl/sandbox.db)'
    assert "+ create   bot" in done.stdout
    assert (tmp_path / ".ftctl" / "sandbox.db").exists() and not (deep / ".ftctl").exists()


def test_a_bad_config_stops_every_command_with_file_line_and_field(tmp_path: Path) -> None:
    deep = _project(tmp_path, "stack: ok\nlimits:\n  max_active: 3\n")
    for args in (["validate"], ["plan", "--sandbox"], ["status", "--sandbox"]):
        done = _ftctl(*args, cwd=deep)
        assert done.returncode == 1, (args, done.stderr)
        assert "ftctl.yaml:3: limits.max_active: unknown field (did you mean max_active_jobs?)" in done.stderr


def test_one_path_may_be_given_as_text(tmp_path: Path) -> None:
    (tmp_path / "ftctl.yaml").write_text("paths: manifests\n")
    (tmp_path / "manifests").mkdir()
    assert load_config(tmp_path)[0].paths == ["manifests"]
