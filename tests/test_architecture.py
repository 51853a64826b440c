"""Layer contracts (import-linter, configured in pyproject.toml) hold, and can fail.

`make test` runs `lint-imports` on the real code; here the same contracts are run on copies of the
package with one deliberately wrong import each, to show that each kind of breach is caught.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import typing
from pathlib import Path

import pytest

from reconciler.api.ports import ApiReader
from reconciler.session.planning import make_plan
from tests.conftest import ROOT

LINT = Path(sys.executable).with_name("lint-imports")


def _lint(root: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(LINT), "--config", str(root / "pyproject.toml"), "--no-cache"], cwd=root,
                          capture_output=True, text=True, env={"PYTHONPATH": str(root), "PATH": "/usr/bin:/bin"},
                          timeout=120)


def test_the_contracts_hold() -> None:
    done = _lint(ROOT)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "0 broken" in done.stdout


@pytest.mark.parametrize(("module", "line", "contract"), [
    ("plan/planner.py", "import httpx", "The planner and its renderers are pure"),
    ("plan/render/text.py", "import click", "The planner and its renderers are pure"),
    ("plan/diff.py", "import sqlite3", "The planner and its renderers are pure"),
    ("identity/spec.py", "from reconciler.plan import model", "Layers"),
    ("session/planning.py", "from reconciler.api.client import Writer", "Planning gets only the read interface"),
    ("api/models.py", "from reconciler import identity", "The API client stands apart"),
    ("sandbox/store.py", "from reconciler.plan import planner", "The sandbox stands apart"),
    ("evals/engine.py", "from reconciler.session import grading", "The grader engine imports no CLI"),
    ("evals/model_graders.py", "from reconciler.api import client", "The grader engine imports no CLI"),
])
def test_a_wrong_import_breaks_its_contract(tmp_path: Path, module: str, line: str, contract: str) -> None:
    shutil.copytree(ROOT / "reconciler", tmp_path / "reconciler", ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(ROOT / "pyproject.toml", tmp_path)
    target = tmp_path / "reconciler" / module
    target.write_text(target.read_text() + f"\n{line}  # deliberately wrong\n")
    done = _lint(tmp_path)
    assert done.returncode != 0
    broken = [row for row in done.stdout.splitlines() if row.endswith("BROKEN")]
    assert any(row.startswith(contract) for row in broken), done.stdout


def test_planning_is_given_only_the_reader() -> None:
    hints = typing.get_type_hints(make_plan)
    assert hints["reader"] is ApiReader
    assert not any(name.startswith("create") or name in ("act", "upload") for name in dir(ApiReader))
