"""Training-data checks: one bad file per rule, the grader cross-check, limits, memory."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from reconciler.datasets.check import analyse, grader_fields, item_fields
from reconciler.datasets.formats import check_lines
from reconciler.datasets.pricing import load_prices
from reconciler.datasets.report import MAX_LISTED
from reconciler.datasets.scan import scan_file
from reconciler.diagnostics import InputError
from reconciler.manifests import load_manifests
from reconciler.session.desired import check_data
from reconciler.session.settings import build
from tests.conftest import ROOT

CASES = Path(__file__).parent / "cases" / "datasets"
EXPECTED: dict[str, list[str]] = json.loads((CASES / "expected.json").read_text())
HINTS: dict[str, dict[str, Any]] = {k: v for k, v in json.loads((CASES / "hints.json").read_text()).items()
                                    if not k.startswith("_")}
GRADER_NEEDS = {"label": "{{item.label}} in method.grader.reference"}


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_bad_file(name: str) -> None:
    fmt = name.split("--")[0]
    scan = scan_file(CASES / f"{name}.jsonl", fmt, required=GRADER_NEEDS if fmt == "reinforcement" else None)
    got = [f"{p.line}: {p.message}" for p in scan.report.errors]
    got += [f"warning {p.line}: {p.message}" for p in scan.report.warnings]
    assert len(got) == len(EXPECTED[name]), got
    for want, have in zip(EXPECTED[name], got, strict=True):
        assert have.startswith(want), (want, have)


def test_every_case_file_has_an_expectation() -> None:
    assert sorted(p.stem for p in CASES.glob("*.jsonl")) == sorted(EXPECTED)


@pytest.mark.parametrize("case", sorted(HINTS))
def test_data_of_another_method_is_one_problem_and_a_hint_at_the_manifest(case: str, repo: Path) -> None:
    """hints.json: the file's problem once (its lines grouped), then the manifest's line (method.type
    when written, else the file's field) naming the format the data looks like and what to set."""
    shutil.copy(CASES / f"{HINTS[case]['data']}.jsonl", repo / "data.jsonl")
    (repo / "job.yaml").write_text(HINTS[case]["manifest"])
    with pytest.raises(InputError) as info:
        check_data([repo / "job.yaml"], build({"FTCTL_TOKENS": "estimate"}, repo))
    assert [str(d) for d in info.value.diagnostics] == HINTS[case]["expected"]


def test_errors_are_listed_up_to_a_limit_with_a_count_of_the_rest(tmp_path: Path) -> None:
    bad = tmp_path / "bad.jsonl"
    bad.write_text("".join(f'{{"messages": [{{"role": "r{i}", "content": "x"}}]}}\n' for i in range(25)))
    report = scan_file(bad, "chat").report
    assert report.error_count == 25 and len(report.errors) == MAX_LISTED and report.unlisted_errors == 5


def test_identical_problems_are_one_message_with_their_lines(tmp_path: Path) -> None:
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"messages": []}\n' * 12)
    (problem,) = scan_file(bad, "chat").report.errors
    assert problem.text() == "lines 1, 2, 3 and 9 more: messages must be a non-empty list of messages"


def test_long_example_is_a_warning() -> None:
    line = json.dumps({"messages": [{"role": "system", "content": "s"}, {"role": "user", "content": "x" * 400},
                                    {"role": "assistant", "content": "a"}]}).encode()
    report = check_lines([line] * 10, "chat", context_tokens=50)
    assert report.ok and report.warning_count == 10
    assert "over the model's limit of 50" in report.warnings[0].message


def test_exact_counter_is_used_when_given() -> None:
    line = json.dumps({"messages": [{"role": "system", "content": "abc"}, {"role": "user", "content": "de"},
                                    {"role": "assistant", "content": "f"}]}).encode()
    exact = check_lines([line] * 10, "chat", count=len)  # one token a character, say
    # per example: text "abc\nde\nf" (8 characters) + 3 per message + 3 for the reply
    assert exact.tokens == 10 * (8 + 3 * 3 + 3)


def test_sha256_of_scan_matches_the_bytes(tmp_path: Path) -> None:
    import hashlib

    f = tmp_path / "t.jsonl"
    shutil.copy(ROOT / "manifests" / "data" / "support" / "train.jsonl", f)
    assert scan_file(f, "chat").sha256 == hashlib.sha256(f.read_bytes()).hexdigest()


@pytest.mark.parametrize("chunk", [7, 64, 1000])
def test_a_file_of_many_chunks_is_hashed_and_split_into_the_same_lines(tmp_path: Path, chunk: int,
                                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    """Chunks hashed on their thread in order, and lines that straddle chunks joined again."""
    import hashlib

    from reconciler.datasets import scan

    f = tmp_path / "t.jsonl"
    shutil.copy(ROOT / "manifests" / "data" / "support" / "train.jsonl", f)
    whole = scan_file(f, "chat")
    monkeypatch.setattr(scan, "CHUNK", chunk)
    chunked = scan_file(f, "chat")
    assert chunked.sha256 == hashlib.sha256(f.read_bytes()).hexdigest() == whole.sha256
    assert (chunked.report.examples, chunked.report.tokens) == (whole.report.examples, whole.report.tokens) != (0, 0)


ABSENT = object()
MESSAGES = [  # every combination of what the quick path looks at
    {k: v for k, v in {"role": role, "content": content, "weight": weight, **extra}.items() if v is not ABSENT}
    for role in ("system", "developer", "user", "assistant", "tool", "bot", 3, ["user"], {}, ABSENT)
    for content in ("hi", "", None, 1, [{"type": "text", "text": "t"}], ABSENT)
    for weight in (0, 1, 2, 1.0, True, False, None, ABSENT)
    for extra in ({}, {"name": "n"}, {"extra": 1})]


def test_the_quick_path_for_clean_chat_judges_and_counts_as_the_whole_check() -> None:
    """Each message of the table, alone and among plain ones, a line each; checked with the quick path
    and without (an exact tokenizer given, here the estimate itself, turns it off): the same errors,
    warnings, examples and tokens; and the quick path taken only by examples the whole check passes
    in silence."""
    from reconciler.datasets import formats

    system, user, answer = ({"role": r, "content": c} for r, c in
                            (("system", "be brief"), ("user", "q?"), ("assistant", "an answer")))
    lists = [[m] for m in MESSAGES] + [[system, user, m] for m in MESSAGES] + \
        [[m, user, answer] for m in MESSAGES] + [[system, m, answer] for m in MESSAGES]
    odd: list[object] = [[], None, {}, "text", [system, user, answer, "text"], [system, user, answer, []]]
    lines = [json.dumps({"messages": messages}).encode() for messages in [*lists, *odd]] + [b"[1]", b"3"]
    quick = check_lines(lines, "chat")
    whole = check_lines(lines, "chat", count=formats.estimate_tokens)
    assert [(p.line, p.message, p.lines, p.count) for p in quick.errors + quick.warnings] == \
        [(p.line, p.message, p.lines, p.count) for p in whole.errors + whole.warnings]
    assert (quick.examples, quick.tokens, quick.longest) == (whole.examples, whole.tokens, whole.longest)
    clean = [line for line in lines if formats._clean_chat(json.loads(line)) is not None]
    assert len(clean) == 6  # 3 weights of an answer, a system or developer message, a question
    silent = check_lines(clean * 2, "chat", count=formats.estimate_tokens)  # 12: enough examples
    assert (silent.examples, silent.error_count, silent.warning_count) == (12, 0, 0)


def test_sandbox_and_cli_share_one_checker() -> None:
    lines = (ROOT / "manifests" / "data" / "support" / "train.jsonl").read_bytes().splitlines()
    report = check_lines(lines, "preference")
    assert not report.ok and '"messages" where the preference format has "input"' in report.errors[0].message


MANIFEST = """\
name: rft
model: o4-mini
training_file: data/train.jsonl
validation_file: data/valid.jsonl
method:
  type: reinforcement
  grader:
    type: multi
    name: m
    calculate_output: "a + b"
    graders:
      a: {{type: string_check, name: a, input: "{{{{sample.output_text}}}}", reference: "{{{{item.label}}}}",
          operation: eq}}
      b: {{type: text_similarity, name: b, input: "{{{{sample.output_text}}}}", reference: "{{{{ item.{field} }}}}",
          evaluation_metric: bleu}}
"""


def _rft_workspace(repo: Path, field: str) -> Path:
    (repo / "data").mkdir()
    line = {"messages": [{"role": "user", "content": "q"}], "label": "x", "answer": "y"}
    (repo / "data" / "train.jsonl").write_text((json.dumps(line) + "\n") * 12)
    del line["answer"]
    (repo / "data" / "valid.jsonl").write_text((json.dumps(line) + "\n") * 10)
    (repo / "rft.yaml").write_text(MANIFEST.format(field=field))
    return repo / "rft.yaml"


def test_grader_fields_are_found_in_nested_graders(repo: Path) -> None:
    (loaded,) = load_manifests([_rft_workspace(repo, "answer")])
    assert set(grader_fields(loaded)) == {"label", "answer"}


def test_grader_field_missing_from_a_file_names_file_line_and_template(repo: Path) -> None:
    _rft_workspace(repo, "answer")
    with pytest.raises(InputError) as info:
        check_data([repo / "rft.yaml"], build({"FTCTL_TOKENS": "estimate"}, repo))
    got = [str(d) for d in info.value.diagnostics]
    assert got[0] == ("data/valid.jsonl:1: lines 1, 2, 3 and 7 more: no field 'answer' (the grader reads "
                      "{{item.answer}} in method.grader.graders.b.reference)")
    assert "rft.yaml:4: validation_file: data/valid.jsonl does not fit the reinforcement format" in got[-1]
    assert not any(g.startswith("data/train.jsonl") for g in got)  # train has the field


PYTHON_GRADER = """\
name: rft
model: o4-mini
training_file: data/train.jsonl
validation_file: data/valid.jsonl
method:
  type: reinforcement
  grader:
    type: multi
    name: m
    calculate_output: "inline + file"
    graders:
      inline:
        type: python
        name: inline
        source: |
          def grade(sample, item):
              return float(item["answer"] == sample["output_text"])
      file: {type: python, name: file, source_file: graders/g.py}
"""


def test_fields_a_python_grader_reads_are_checked_like_templates(repo: Path) -> None:
    """``item["x"]`` and ``item.get("x")`` in a python grader's code, inline or in its file, are fields
    every data line must have, as ``{{item.x}}`` is; the message points into the code."""
    _rft_workspace(repo, "answer")
    (repo / "graders").mkdir()
    (repo / "graders" / "g.py").write_text('def grade(sample, item):\n    """Scores the hint."""\n'
                                          '    return float(bool(item.get("hint")))\n')
    (repo / "rft.yaml").write_text(PYTHON_GRADER)
    with pytest.raises(InputError) as info:
        check_data([repo / "rft.yaml"], build({"FTCTL_TOKENS": "estimate"}, repo))
    assert [str(d) for d in info.value.diagnostics] == [
        "data/train.jsonl:1: lines 1, 2, 3 and 9 more: no field 'hint' (the grader reads item.get(\"hint\") in "
        "graders/g.py:3)",
        "rft.yaml:3: training_file: data/train.jsonl does not fit the reinforcement format of a reinforcement job "
        "(see the problems listed above)",
        "data/valid.jsonl:1: lines 1, 2, 3 and 7 more: no field 'answer' (the grader reads item[\"answer\"] in "
        "method.grader.graders.inline.source, line 2 of the code); no field 'hint' (the grader reads "
        "item.get(\"hint\") in graders/g.py:3)",
        "rft.yaml:4: validation_file: data/valid.jsonl does not fit the reinforcement format of a reinforcement "
        "job (see the problems listed above)"]


def test_a_python_graders_fields_the_data_has_are_no_problem(repo: Path) -> None:
    _rft_workspace(repo, "answer")
    (repo / "rft.yaml").write_text(PYTHON_GRADER.replace("graders/g.py", "g.py"))
    (repo / "g.py").write_text("def grade(sample, item):\n    return float(item['label'] == 'x')\n")
    (repo / "data" / "valid.jsonl").write_text((repo / "data" / "train.jsonl").read_text())
    (loaded,) = load_manifests([repo / "rft.yaml"])
    assert set(grader_fields(loaded)) == {"answer", "label"}
    analysis = analyse([loaded], load_prices())
    assert not analysis.errors, [str(d) for d in analysis.errors]


def test_estimate_uses_epochs_and_the_price_table(repo: Path) -> None:
    (repo / "data").mkdir()
    line = {"messages": [{"role": "system", "content": "s"}, {"role": "user", "content": "q" * 40},
                         {"role": "assistant", "content": "a" * 40}]}
    (repo / "data" / "t.jsonl").write_text((json.dumps(line) + "\n") * 20)
    (repo / "a.yaml").write_text("name: a\nmodel: gpt-4o-mini\ntraining_file: data/t.jsonl\n")
    (repo / "b.yaml").write_text("name: b\nmodel: gpt-4o-mini\ntraining_file: data/t.jsonl\n"
                                 "method: {hyperparameters: {n_epochs: 2}}\n")
    prices = repo / "prices.json"
    prices.write_text(json.dumps({"as_of": "2030-01-01", "currency": "USD",
                                  "training_per_million_tokens": {"gpt-4o-mini-2024-07-18": 1000.0}}))
    analysis = analyse(load_manifests([repo / "a.yaml", repo / "b.yaml"]), load_prices(prices))
    a, b = analysis.estimates["a"], analysis.estimates["b"]
    per_example = 1 + 10 + 10 + 3 * 3 + 3  # s, 40 q, 40 a at 4 characters a token, framing
    assert a.tokens == b.tokens == 20 * per_example and not a.exact
    assert a.epochs == 5  # auto: at least 100 example-passes over 20 examples
    assert b.epochs == 2
    assert b.trained_tokens == 2 * b.tokens
    assert b.cost == pytest.approx(b.trained_tokens / 1_000_000 * 1000.0)
    assert a.prices_as_of == "2030-01-01"
    assert len(analysis.scans) == 1  # the shared file was read once


def test_memory_does_not_grow_with_file_size(tmp_path: Path) -> None:
    line = (json.dumps({"messages": [{"role": "system", "content": "s"}, {"role": "user", "content": "q" * 200},
                                     {"role": "assistant", "content": "a" * 300}]}) + "\n").encode()
    small, big = tmp_path / "small.jsonl", tmp_path / "big.jsonl"
    small.write_bytes(line * 2_000)  # about 1 MB
    big.write_bytes(line * 120_000)  # about 70 MB
    code = ("import resource, sys; from pathlib import Path; from reconciler.datasets.scan import scan_file; "
            "r = scan_file(Path(sys.argv[1]), 'chat').report; assert r.ok, r.errors; "
            "print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)")

    def peak_kb(path: Path) -> int:
        return int(subprocess.run([sys.executable, "-c", code, str(path)], capture_output=True, text=True,
                                  check=True).stdout)

    grown_mb = (peak_kb(big) - peak_kb(small)) / 1024
    assert grown_mb < 20, f"peak memory grew by {grown_mb:.1f} MB for a 70x larger file"


def test_nested_item_fields_are_checked_on_every_line() -> None:
    good = {"messages": [{"role": "user", "content": "q"}], "meta": {"source": "web", "tags": ["a"]}}
    lines = [json.dumps(good).encode()] * 11 + [json.dumps({**good, "meta": {"tags": []}}).encode()]
    needs = {"meta.source": "{{item.meta.source}} in method.grader.reference", "meta.tags.0": "{{item.meta.tags.0}}"}
    report = check_lines(lines, "reinforcement", required=needs)
    assert [p.text() for p in report.errors] == [
        "no field 'meta.source' (the grader reads {{item.meta.source}} in method.grader.reference); "
        "no field 'meta.tags.0' (the grader reads {{item.meta.tags.0}})"]
    assert report.errors[0].line == 12


def test_reinforcement_is_never_priced_per_token() -> None:
    prices = load_prices()
    assert prices.training_cost("o4-mini", "reinforcement", 1_000_000) is None
    assert prices.hourly("o4-mini", "reinforcement") == 100.0
    assert prices.training_cost("gpt-4o-mini", "supervised", 1_000_000) == 3.0
    assert prices.hourly("gpt-4o-mini", "supervised") is None


@pytest.mark.parametrize(("message", "ok"), [
    ({"role": "tool", "content": "", "tool_call_id": "c1"}, True),  # a tool that returned nothing
    ({"role": "assistant", "content": "", "weight": 0}, True),  # not trained on
    ({"role": "assistant", "content": None, "refusal": "I can't help with that."}, True),
    ({"role": "assistant", "content": None, "tool_calls": [{"id": "c1", "type": "function"}]}, True),
    ({"role": "user", "content": ""}, False),
    ({"role": "assistant", "content": ""}, False),
])
def test_empty_content_is_an_error_only_where_there_is_something_to_learn(message: dict[str, object],
                                                                          ok: bool) -> None:
    line = json.dumps({"messages": [{"role": "user", "content": "q"}, message,
                                    {"role": "assistant", "content": "a"}]}).encode()
    assert check_lines([line] * 10, "chat").ok is ok


def test_a_byte_order_mark_at_the_start_is_not_an_error() -> None:
    line = json.dumps({"messages": [{"role": "user", "content": "q"}, {"role": "assistant", "content": "a"}]})
    report = check_lines([b"\xef\xbb\xbf" + line.encode()] + [line.encode()] * 9, "chat")
    assert report.ok, [p.text() for p in report.errors]


def test_indexed_and_hyphenated_item_templates_are_checked() -> None:
    grader = {"type": "string_check", "input": "{{item.tags[0]}}", "reference": "{{ item.my-field }}"}
    assert item_fields(grader) == {"tags.0": "{{item.tags[0]}} in method.grader.input",
                                   "my-field": "{{item.my-field}} in method.grader.reference"}


@pytest.mark.parametrize("chunk", [7, 64, 4096])
def test_a_line_longer_than_an_example_can_be_is_hashed_but_not_kept(tmp_path: Path, chunk: int,
                                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    import hashlib

    from reconciler.datasets import formats, scan

    monkeypatch.setattr(scan, "MAX_LINE", 200)
    monkeypatch.setattr(formats, "MAX_LINE", 200)
    monkeypatch.setattr(scan, "CHUNK", chunk)
    good = json.dumps({"messages": [{"role": "user", "content": "q"}, {"role": "assistant", "content": "a"}]})
    long = json.dumps({"messages": [{"role": "user", "content": "x" * 1000}, {"role": "assistant", "content": "a"}]})
    data = "\n".join([good, long, good, "x" * 150, good]).encode()  # a short bad line stays a JSON error
    path = tmp_path / "t.jsonl"
    path.write_bytes(data)
    result = scan_file(path, "chat")
    assert result.sha256 == hashlib.sha256(data).hexdigest() and result.bytes == len(data)
    errors = [(p.lines[0], p.message) for p in result.report.errors]
    assert errors[0] == (2, f"{len(long):,} bytes on one line, more than an example may take (0 MB): not read")
    assert errors[1][0] == 4 and errors[1][1].startswith("not valid JSON")
    assert result.report.examples == 3
