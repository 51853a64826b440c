"""Table-driven invalid manifests: each file under cases/invalid/ states the problems it must give.

A case is a YAML file whose leading ``# expect: LINE: FIELD: message`` comments list every
diagnostic the loader must report for it, errors and warnings (``warning: …``); a fragment of the
message is enough, and a diagnostic in another file (a python grader's code) is written
``# expect: FILE:LINE: FIELD: message``. Adding a case is adding a file.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from reconciler.diagnostics import InputError
from reconciler.manifests import load_all, load_manifests

CASES = Path(__file__).parent / "cases" / "invalid"
FILES = sorted(CASES.glob("*.yaml"))


def _expectations(path: Path) -> list[str]:
    return [line.removeprefix("# expect: ").strip() for line in path.read_text().splitlines()
            if line.startswith("# expect: ")]


def test_there_are_enough_cases() -> None:
    assert len(FILES) >= 30


@pytest.mark.parametrize("case", FILES, ids=[f.stem for f in FILES])
def test_invalid_case(case: Path) -> None:
    expected = _expectations(case)
    assert expected, f"{case.name} has no '# expect:' line"
    loaded, problems = load_all([case], root=CASES)
    got = [str(d) for d in problems]
    if any(p.severity == "error" for p in problems):
        with pytest.raises(InputError):
            load_manifests([case], root=CASES)
    else:  # warnings alone stop nothing
        assert load_manifests([case], root=CASES) == loaded
    for want in expected:
        assert any(f"{case.name}:{want}" in g or (not want[0].isdigit() and want in g) for g in got), (
            f"expected {want!r} in {got}")
    assert len(got) == len(expected), f"unexpected extra errors: {got}"
