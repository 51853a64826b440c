"""Settings: flag > environment > default, one clear error per bad value, the project root."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from reconciler.session.settings import DEFAULT_API_BASE, SetupError, UsageProblem, build
from reliability.sandbox import clean_env


def test_precedence_flag_over_environment_over_default(tmp_path: Path) -> None:
    env = {"FTCTL_STACK": "from-env", "OPENAI_BASE_URL": "https://env.example/v1"}
    assert build({}, tmp_path).stack == "default" and build({}, tmp_path).api_base == DEFAULT_API_BASE
    s = build(env, tmp_path)
    assert (s.stack, s.stack_from, s.api_base, s.api_base_from) == ("from-env", "env", "https://env.example/v1", "env")
    s = build(env, tmp_path, stack="from-flag", api_base="https://flag.example/v1")
    assert (s.stack, s.stack_from, s.api_base, s.api_base_from) == ("from-flag", "flag", "https://flag.example/v1",
                                                                    "flag")


@pytest.mark.parametrize(("env", "flags", "message"), [
    ({"FTCTL_STACK": "Prod Stack"}, {}, "FTCTL_STACK='Prod Stack' is not a valid stack name"),
    ({}, {"stack": ""}, "--stack='' is not a valid stack name"),
    ({}, {"stack": "x" * 64}, "is not a valid stack name"),
    ({"FTCTL_SANDBOX_SPEED": "fast"}, {}, "FTCTL_SANDBOX_SPEED='fast' must be a number greater than 0"),
    ({"FTCTL_SANDBOX_SPEED": "-1"}, {}, "FTCTL_SANDBOX_SPEED='-1' must be a number greater than 0"),
    ({"FTCTL_TOKENS": "exact"}, {}, "FTCTL_TOKENS='exact' must be 'auto'"),
    ({"FTCTL_MAX_ACTIVE_JOBS": "²"}, {}, "FTCTL_MAX_ACTIVE_JOBS='²' must be a whole number of at least 1"),
    ({"FTCTL_MAX_ACTIVE_JOBS": "0"}, {}, "FTCTL_MAX_ACTIVE_JOBS='0' must be a whole number of at least 1"),
])
def test_bad_values_are_one_clear_error(tmp_path: Path, env: dict[str, str], flags: dict[str, str],
                                        message: str) -> None:
    with pytest.raises(SetupError, match=message.replace("(", r"\(").replace(")", r"\)")):
        build(env, tmp_path, **flags)  # type: ignore[arg-type]


def test_sandbox_and_api_base_together_are_a_usage_error(tmp_path: Path) -> None:
    with pytest.raises(UsageProblem, match="--sandbox and --api-base"):
        build({}, tmp_path, sandbox=True, api_base="https://x.example/v1")


def test_the_project_root_is_the_config_directory_else_git_else_here(tmp_path: Path) -> None:
    deep = tmp_path / "a" / "b"
    deep.mkdir(parents=True)
    assert build({}, deep).root == deep.resolve()
    (tmp_path / ".git").mkdir()
    assert build({}, deep).root == tmp_path.resolve()
    (tmp_path / "a" / "ftctl.yaml").write_text("")
    assert build({}, deep).root == (tmp_path / "a").resolve()
    assert build({}, deep).sandbox_db == (tmp_path / "a" / ".ftctl" / "sandbox.db").resolve()


def test_a_bad_variable_is_reported_by_the_cli_without_a_traceback(tmp_path: Path) -> None:
    env = clean_env(FTCTL_STACK="Bad Stack")
    done = subprocess.run([sys.executable, "-m", "reconciler", "plan", "--sandbox"], cwd=tmp_path, env=env,
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 1
    assert done.stderr.strip().splitlines() == [
        "Error: FTCTL_STACK='Bad Stack' is not a valid stack name: use 1-63 lowercase letters, digits and '-', "
        "starting and ending with a letter or digit"]


def test_log_level_flag_over_environment_and_a_bad_value_names_the_variable() -> None:
    from reconciler.logs import log_level

    assert log_level(None, {}) == "warning"
    assert log_level(None, {"FTCTL_LOG": "INFO"}) == "info"
    assert log_level("debug", {"FTCTL_LOG": "error"}) == "debug"
    with pytest.raises(SetupError, match="FTCTL_LOG='loud' must be one of debug, info, warning, error"):
        log_level(None, {"FTCTL_LOG": "loud"})


def test_the_apply_hint_is_a_command_that_works_as_typed(tmp_path: Path) -> None:
    from reconciler.session.saved import apply_hint, check_out_name

    assert apply_hint("plan.json", build({}, tmp_path)) == "ftctl apply plan.json"
    assert apply_hint("-o.json", build({}, tmp_path)) == "ftctl apply ./-o.json"
    assert apply_hint("my plan.json", build({}, tmp_path)) == "ftctl apply 'my plan.json'"
    flagged = build({}, tmp_path, api_base="https://x.example/v1/")
    assert apply_hint("p.json", flagged) == "ftctl apply p.json --api-base https://x.example/v1"
    with pytest.raises(SetupError, match="the folder nodir does not exist"):
        check_out_name(Path("nodir/p.json"))


def test_log_level_given_after_the_subcommand_wins_over_a_bad_ftctl_log(tmp_path: Path) -> None:
    (tmp_path / "m.yaml").write_text("name: bot\nmodel: gpt-4o-mini\ntraining_file: file-abc\n")
    env = clean_env(FTCTL_LOG="bogus", FTCTL_STACK="Not A Stack")
    done = subprocess.run([sys.executable, "-m", "reconciler", "validate", "m.yaml", "--log-level", "info"],
                          cwd=tmp_path, env=env, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr  # validate does not use the stack: its variable is not checked
    bad = subprocess.run([sys.executable, "-m", "reconciler", "validate", "m.yaml"], cwd=tmp_path, env=env,
                         capture_output=True, text=True, timeout=60)
    assert bad.returncode == 1 and "FTCTL_LOG='bogus' must be one of" in bad.stderr


@pytest.mark.parametrize(("text", "target", "seconds"), [
    ("5s", {}, 5.0), ("1s", {}, 1.0), ("0.5s", {}, None), ("0s", {}, None),
    ("0.5s", {"sandbox": True}, 0.5), ("0.1s", {"api_base": "http://127.0.0.1:8787/v1"}, 0.1),
    ("0s", {"sandbox": True}, None), ("0.5s", {"api_base": "https://proxy.example/v1"}, None)])
def test_poll_interval_has_a_floor_against_a_remote_api(tmp_path: Path, text: str, target: dict[str, object],
                                                        seconds: float | None) -> None:
    """Each poll is a request: at least a second against a remote API; the sandbox on this machine
    may be polled faster, but not without pause."""
    from reconciler.session.settings import poll_interval

    settings = build({}, tmp_path, **target)  # type: ignore[arg-type]
    if seconds is None:
        with pytest.raises(UsageProblem, match=r"--poll-interval .*: at least"):
            poll_interval(text, settings)
    else:
        assert poll_interval(text, settings) == seconds
