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


REFUSED = {  # what validation refuses (SPEC §1, the README's "What is refused") → the cases that show it
    "YAML that cannot be read, nests too deeply or expands beyond 20,000 values (alias bombs)": [
        "alias-bomb", "bad-yaml", "yaml-nested-too-deep"],
    "a file that holds no manifest (another tool's YAML, not a mapping, nothing at all)": [
        "foreign-compose", "foreign-kubernetes", "not-a-mapping", "empty-file"],
    "unknown keys, with a did-you-mean hint": [
        "unknown-top-level-key", "unknown-hyperparameter", "beta-on-supervised", "wandb-typo", "second-document"],
    "duplicate keys in a mapping": ["duplicate-key"],
    "duplicate names": ["duplicate-names"],
    "required fields missing": ["missing-model", "missing-name", "reinforcement-without-grader", "grader-without-type"],
    "wrong types (\"3\" is not 3; YAML's yes/no are booleans)": [
        "epochs-as-string", "float-written-as-text", "metadata-not-string", "yaml-boolean-label"],
    "out-of-range values and values not among the allowed ones": [
        "bad-kind", "bad-name", "name-too-long", "bad-state", "bad-metric", "bad-operation", "bad-reasoning-effort",
        "batch-size-zero", "beta-too-big", "compute-multiplier-range", "epochs-out-of-range", "learning-rate-zero",
        "seed-negative", "seed-too-big", "suffix-too-long", "suffix-colon", "too-many-integrations", "unknown-method",
        "score-model-bad-range", "score-model-bad-role"],
    "a grader on a non-reinforcement method": ["grader-on-dpo", "grader-on-supervised"],
    "a top-level label_model": ["top-level-label-model"],
    "too much or reserved metadata, keys over 64 or values over 512 characters": [
        "too-much-metadata", "reserved-metadata", "metadata-key-too-long", "metadata-value-too-long"],
    "a local path that leaves the project root": ["path-escapes-root"],
    "a missing local file": [
        "missing-local-file", "missing-validation-file", "training-file-is-a-folder", "python-source-file-missing"],
    "a model ftctl's catalog does not know (an error with a did-you-mean, else a warning)": [
        "unknown-model-typo", "unknown-model-far", "unknown-fine-tuned-base", "fine-tuned-no-base",
        "grader-model-near-miss", "grader-model-unknown"],
    "a method the model cannot be fine-tuned with": ["method-unsupported-dpo", "method-unsupported-reinforcement"],
    "a calculate_output outside the formula grammar, naming an unknown grader or leaving one out": [
        "formula-arity", "formula-forbidden", "formula-syntax-error", "formula-too-long", "formula-undefined-name",
        "multi-unused-grader", "grader-keyword-name"],
    "python grader code that is empty, does not compile or defines no grade(sample, item)": [
        "python-bad-signature", "python-empty-source", "python-no-grade", "python-syntax-error", "python-two-sources"],
    "a {{sample.x}} a sample does not offer; passing_labels outside labels": [
        "sample-template-unknown", "multi-passing-labels"],
    "a pipeline's upstream no manifest declares, a cycle, a bad checkpoint, a method its root model cannot take": [
        "pipeline-unknown-upstream", "pipeline-cycle", "pipeline-long-cycle", "pipeline-method-of-root"],
    "an evaluation gate that can never be passed (beyond its grader's range, a gain without a baseline)": [
        "gate-unreachable"],
    "all the errors of a run, reported together": [
        "two-errors-reported-together", "grader-errors-together", "missing-file-beside-grader-errors"],
}


def test_every_refusal_has_a_case_and_every_case_shows_one() -> None:
    listed = [name for names in REFUSED.values() for name in names]
    assert sorted(listed) == sorted(f.stem for f in FILES), "each case file under exactly one refusal of REFUSED"
    assert [refusal for refusal, names in REFUSED.items() if not names] == []


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
