"""Every command sample of the README and of ``docs/`` runs as written and prints what the page says
(``tests/doctest_md.py`` explains the format)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.conftest import ROOT
from tests.doctest_md import Ids, Sample, matches, normalise, project, run_page, steps

pytestmark = pytest.mark.e2e
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
FIGURES = {"reliability.md", "performance.md", "sandbox-fidelity.md"}
"""Pages of figures written by a run (make reliability, make fuzz) and notes, not of samples."""


@pytest.mark.parametrize("page", PAGES, ids=[p.name for p in PAGES])
def test_the_samples_print_what_the_page_says(page: Path, tmp_path: Path) -> None:
    if page.name not in FIGURES:
        assert any(step.samples for step in steps(page.read_text())), f"{page.name} has no console sample"
    problems = run_page(page, project(tmp_path, ROOT))
    assert not problems, "\n\n".join(problems)


def test_the_comparison_can_fail() -> None:
    assert matches(["a", "...", "d"], ["a", "b", "c", "d"]) and not matches(["a", "...", "d"], ["a", "b"])
    assert normalise(["ftjob-Abc123xyz  running  42s  "]) == ["ftjob-<id>  <in progress>  <t>"]
    assert normalise(["support-bot: succeeded"]) == ["support-bot: succeeded"]  # a terminal status stays exact
    assert not matches(normalise(["1 error."]), normalise(["2 errors."]))


def test_one_thing_keeps_one_id_across_a_page() -> None:
    """A job shown under two IDs, or two jobs under one, in a page's samples is a mismatch, however
    the run's IDs differ from the page's."""
    ids = Ids()

    def problems(command: str, shown: str, got: str) -> list[str]:
        return ids.check("p.md", Sample(command, [shown], 1), [shown], [got], [(0, 0)])

    assert problems("apply", "created ftjob-AAAAAAAA (ft:m:sandbox:s:AAAAAAAA)",
                    "created ftjob-XXXXXXXX (ft:m:sandbox:s:XXXXXXXX)") == []
    assert problems("status", "ftjob-AAAAAAAA running", "ftjob-XXXXXXXX running") == []
    assert "an earlier sample showed ftjob-AAAAAAAA" in problems("wait", "ftjob-BBBBBBBB", "ftjob-XXXXXXXX")[0]
    assert "two things in the run" in problems("status", "ftjob-AAAAAAAA", "ftjob-YYYYYYYY")[0]
    assert "an earlier sample showed s:AAAAAAAA" in problems("outputs", "ft:m:sandbox:s:BBBBBBBB",
                                                            "ft:m:sandbox:s:XXXXXXXX")[0]


def test_the_readmes_synopsis_names_only_commands_and_options_that_exist() -> None:
    import re

    import click

    from reconciler.cli import cli

    text = (ROOT / "README.md").read_text()
    block = text.split("## Commands\n\n```text\n", 1)[1].split("```", 1)[0]
    command: click.Command | None = None
    checked = 0
    for line in block.splitlines():
        words = line.split()
        if words and words[0] == "ftctl":
            command, rest = cli, words[1:]
            while isinstance(command, click.Group) and rest and rest[0] in command.commands:
                command, rest = command.commands[rest[0]], rest[1:]
        assert command is not None
        names = {n for p in command.params for n in (*p.opts, *p.secondary_opts)}
        for flag in re.findall(r"(?<![\w-])(--?[a-z][\w-]*)", line.split("  ")[0] if words[0] == "ftctl" else line):
            assert flag in names, f"{flag} is not an option of {command.name}: {line.strip()}"
            checked += 1
    assert checked > 25
