"""Layer contracts: the planner is pure data in, data out; plan gets only the reader."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

from tests.conftest import ROOT

PLAN = ROOT / "reconciler" / "plan"
FORBIDDEN_IN_PLAN = ("httpx", "reconciler.api.client", "reconciler.apply", "reconciler.sandbox", "sqlite3",
                     "reconciler.session", "reconciler.cli")


def _imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text())
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            found.add(node.module)
    return found


def test_plan_modules_import_no_io_layer() -> None:
    for path in sorted(PLAN.glob("*.py")):
        bad = {m for m in _imports(path) if m.startswith(FORBIDDEN_IN_PLAN)}
        assert not bad, f"{path.name} imports {bad}"


def test_importing_the_planner_loads_no_http_library() -> None:
    code = ("import sys, reconciler.plan.planner, reconciler.plan.render; "
            "print(sorted(m for m in sys.modules if m.split('.')[0] in ('httpx', 'httpcore', 'sqlite3')))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


def test_plan_command_receives_only_the_reader() -> None:
    source = (ROOT / "reconciler" / "session.py").read_text()
    make_plan = source[source.index("def make_plan"):source.index("def load_plan_file")]
    assert "reader" in make_plan and "writer" not in make_plan
