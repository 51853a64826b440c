"""The CI examples (``examples/github-actions``, ``examples/gitlab-ci``) are valid YAML of the right
shape, and every ftctl command in them exists with the flags they give: parsed by the real CLI."""

from __future__ import annotations

import re
import shlex
import warnings
from pathlib import Path
from typing import Any

import click
import pytest
import yaml

from reconciler.cli import cli
from tests.conftest import ROOT

GITHUB = ROOT / "examples" / "github-actions" / "ftctl.yml"
GITLAB = ROOT / "examples" / "gitlab-ci" / ".gitlab-ci.yml"
SCRIPT_KEYS = ("run", "script", "before_script")
COMMAND = re.compile(r"(?:^|[;&|(]\s*)ftctl\s+([^;&|>)\n]*)")


def _strings(node: Any) -> list[str]:
    if isinstance(node, str):
        return [node]
    if isinstance(node, dict):
        return [s for v in node.values() for s in _strings(v)]
    if isinstance(node, list):
        return [s for v in node for s in _strings(v)]
    return []


def _scripts(node: Any) -> list[str]:
    """The shell scripts: GitHub's ``run``, GitLab's ``script`` and ``before_script``."""
    if isinstance(node, dict):
        return [s for k, v in node.items() for s in (_strings(v) if k in SCRIPT_KEYS else _scripts(v))]
    if isinstance(node, list):
        return [s for v in node for s in _scripts(v)]
    return []


def commands(path: Path) -> list[list[str]]:
    """Every ``ftctl …`` command line in the file's scripts, as argument lists."""
    found = []
    for text in _scripts(yaml.safe_load(path.read_text())):
        for line in text.splitlines():
            found += [shlex.split(m.group(1)) for m in COMMAND.finditer(line.strip())]
    return found


def check(args: list[str]) -> click.Command:
    """Parse ``ftctl ARGS`` as the CLI would, without running it: an unknown command or flag raises."""
    ctx = cli.make_context("ftctl", list(args), resilient_parsing=False)
    with warnings.catch_warnings():  # click 8.2 keeps the subcommand in protected_args (args in click 9)
        warnings.simplefilter("ignore", DeprecationWarning)
        tokens = [*ctx.protected_args, *ctx.args]
    name, command, rest = cli.resolve_command(ctx, tokens)
    assert command is not None, args
    command.make_context(name or "", rest, parent=ctx)
    return command


@pytest.mark.parametrize("path", [GITHUB, GITLAB], ids=["github", "gitlab"])
def test_every_ftctl_command_exists_with_its_flags(path: Path) -> None:
    found = commands(path)
    assert {c[0] for c in found} >= {"validate", "plan", "apply", "outputs"}
    for args in found:
        check(args)


def test_a_wrong_flag_would_be_caught() -> None:
    with pytest.raises(click.UsageError):
        check(["plan", "--detailed-exit-code"])
    with pytest.raises(click.UsageError):
        check(["deploy"])


def test_the_github_workflow_validates_plans_comments_applies_one_at_a_time_and_checks_drift() -> None:
    flow = yaml.safe_load(GITHUB.read_text())
    triggers = flow[True]  # YAML 1.1 reads the key `on` as true, as GitHub's own parser does not
    assert set(triggers) == {"pull_request", "push", "schedule", "workflow_dispatch"}
    assert triggers["push"]["branches"] == ["main"] and triggers["schedule"][0]["cron"]
    jobs = flow["jobs"]
    for job in jobs.values():
        assert job["runs-on"] and job["steps"]
    assert "ftctl validate -o github" in _strings(jobs["validate"])
    plan_text = "\n".join(_strings(jobs["plan"]))
    assert jobs["plan"]["permissions"]["pull-requests"] == "write"
    assert "plan -o markdown --detailed-exitcode" in plan_text
    assert "updateComment" in plan_text and "createComment" in plan_text  # one comment, updated in place
    assert jobs["apply"]["concurrency"] == {"group": "ftctl-apply", "cancel-in-progress": False}
    assert jobs["apply"]["if"] == "github.event_name == 'push'"
    assert "ftctl plan --detailed-exitcode" in "\n".join(_strings(jobs["drift"]))


def test_the_gitlab_pipeline_has_the_same_four_parts() -> None:
    pipeline = yaml.safe_load(GITLAB.read_text())
    assert pipeline["stages"] == ["validate", "plan", "apply"]
    assert pipeline["apply"]["resource_group"] == pipeline["drift"]["resource_group"] == "ftctl-apply"
    assert any("schedule" in r["if"] for r in pipeline["drift"]["rules"])
    assert "PUT" in "\n".join(pipeline["plan"]["script"])  # the note is updated, not posted again
