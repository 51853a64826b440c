"""Properties of the manifest loader: valid manifests round-trip, arbitrary input never crashes."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from reconciler.manifests import yamlsrc
from reconciler.manifests.loader import load_file
from reconciler.manifests.model import Manifest

SETTINGS = settings(max_examples=150, deadline=None,
                    suppress_health_check=[HealthCheck.function_scoped_fixture])

names = st.from_regex(r"\A[a-z0-9]([a-z0-9-]{0,20}[a-z0-9])?\Z")
text = st.text(st.characters(codec="utf-8", exclude_categories=("Cs", "Cc"), exclude_characters="{}"), min_size=1,
               max_size=30)
code = st.integers(0, 100).map(lambda n: f"def grade(sample, item):\n    return {n / 100}\n")
auto_int = st.one_of(st.just("auto"), st.integers(1, 50))
auto_float = st.one_of(st.just("auto"), st.floats(0.01, 10, allow_nan=False))

string_check = st.fixed_dictionaries({
    "type": st.just("string_check"), "name": text, "input": text, "reference": text,
    "operation": st.sampled_from(["eq", "ne", "like", "ilike"])})
similarity = st.fixed_dictionaries({
    "type": st.just("text_similarity"), "name": text, "input": text, "reference": text,
    "evaluation_metric": st.sampled_from(["cosine", "bleu", "rouge_l"])})
python = st.fixed_dictionaries({"type": st.just("python"), "name": text, "source": code},
                               optional={"image_tag": text})
label = st.fixed_dictionaries({
    "type": st.just("label_model"), "name": text, "model": st.sampled_from(["gpt-4o-2024-08-06", "o3-mini"]),
    "input": st.just([{"role": "user", "content": "{{item.x}}"}]),
    "labels": st.just(["a", "b"]), "passing_labels": st.just(["a"])})
simple = st.one_of(string_check, similarity, python)
multi = st.dictionaries(st.from_regex(r"\A[a-z_][a-z0-9_]{0,8}\Z"), st.one_of(simple, label),
                        min_size=1, max_size=3).map(
    lambda graders: {"type": "multi", "name": "m", "graders": graders,
                     "calculate_output": " + ".join(graders)})
methods = st.one_of(
    st.fixed_dictionaries({"type": st.just("supervised")},
                          optional={"hyperparameters": st.fixed_dictionaries(
                              {}, optional={"n_epochs": auto_int, "batch_size": auto_int,
                                            "learning_rate_multiplier": auto_float})}),
    st.fixed_dictionaries({"type": st.just("dpo")},
                          optional={"hyperparameters": st.fixed_dictionaries(
                              {}, optional={"beta": st.one_of(st.just("auto"), st.floats(0.01, 2)),
                                            "n_epochs": auto_int})}),
    st.fixed_dictionaries({"type": st.just("reinforcement"), "grader": st.one_of(simple, multi)},
                          optional={"hyperparameters": st.fixed_dictionaries(
                              {}, optional={"reasoning_effort": st.sampled_from(["low", "high"]),
                                            "eval_samples": auto_int})}),
)
def _model_for_method(doc: dict[str, Any]) -> dict[str, Any]:
    """Reinforcement fine-tuning needs a model that supports it (the catalog is checked)."""
    if doc.get("method", {}).get("type") == "reinforcement":
        return {**doc, "model": "o4-mini"}
    return doc


manifests = st.fixed_dictionaries(
    {"name": names, "model": st.sampled_from(["gpt-4o-mini", "gpt-4.1-mini-2025-04-14"]),
     "training_file": st.sampled_from(["file-abc123", "data/train.jsonl"])},
    optional={
        "method": methods,
        "suffix": st.text(st.characters(codec="ascii", categories=("L", "N")), min_size=1, max_size=64),
        "seed": st.integers(0, 2_147_483_647),
        "metadata": st.dictionaries(st.text(min_size=1, max_size=64).filter(
            lambda k: not k.startswith("ftctl-")), st.text(max_size=512), max_size=13),
        "integrations": st.lists(st.fixed_dictionaries(
            {"type": st.just("wandb"), "wandb": st.fixed_dictionaries(
                {"project": text}, optional={"tags": st.lists(text, max_size=3)})}), max_size=5),
        "state": st.sampled_from(["active", "paused", "cancelled"]),
        "validation_file": st.just("file-valid1"),
    }).map(_model_for_method)


def _load_one(path: Path, doc: Any) -> Manifest:
    path.write_text(yaml.safe_dump(doc, allow_unicode=True, sort_keys=False), encoding="utf-8")
    loaded, problems = load_file(path, root=path.parent)
    assert not problems, [str(p) for p in problems]
    assert len(loaded) == 1
    return loaded[0].manifest


@SETTINGS
@given(doc=manifests)
def test_valid_manifest_survives_dump_and_load(repo: Path, doc: dict[str, Any]) -> None:
    (repo / "data").mkdir(exist_ok=True)
    (repo / "data" / "train.jsonl").write_text("{}\n")
    first = _load_one(repo / "a.yaml", doc)
    again = _load_one(repo / "b.yaml", first.to_document())
    assert again == first


yaml_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda children: (st.lists(children, max_size=4)
                      | st.dictionaries(st.text(max_size=12), children, max_size=4)),
    max_leaves=30,
)


@SETTINGS
@given(raw=st.text(max_size=400))
def test_arbitrary_text_gives_clean_errors(repo: Path, raw: str) -> None:
    path = repo / "fuzz.yaml"
    path.write_text(raw, encoding="utf-8")
    _loaded, problems = load_file(path, root=repo)  # must not raise
    for problem in problems:
        assert problem.file == "fuzz.yaml" and problem.message


@SETTINGS
@given(value=st.dictionaries(st.sampled_from(
    ["name", "model", "training_file", "method", "metadata", "seed", "state", "suffix", "x"]),
    yaml_values, max_size=6))
def test_arbitrary_structures_give_model_or_errors(repo: Path, value: dict[str, Any]) -> None:
    path = repo / "fuzz.yaml"
    path.write_text(yaml.safe_dump(value), encoding="utf-8")
    loaded, problems = load_file(path, root=repo)
    assert bool(loaded) != bool(problems)
    for problem in problems:
        assert problem.line >= 1 and problem.message


YAML_PIECES = ["a", "b: ", "- ", "\n", "  ", "\t", "\ufeff", "[", "]", "{", "}", ",", ": ", "&x ", "*x", "'q'",
               '"d\\t"', "#c", "---\n", "...\n", "? ", "?", "|\n", ">\n", "!!str ", "!!int ", "!", "! ", "%YAML 1.1\n",
               "\x07", "\u2028", "\x85", "é", "1", "0x1F", "~", "null", "yes", ":", "-", "\r\n", "\r", " ", "@", "`",
               "!tag ", "<<: *x\n", "\\", "%", "\U0001F600", "\x00", "\ufffe"]
"""Pieces of YAML, ordinary and odd; ``_PYTHON_ONLY`` was found by comparing the parsers on a few
hundred thousand texts made of them."""


def _read(text: str, parser: Any = None) -> list[Any]:
    """What ftctl reads from ``text`` (or the given parser alone): (line, value or message) per document."""
    found = yamlsrc.load_documents(text) if parser is None else yamlsrc._documents(text, parser)
    return [(d.line, d.message) if isinstance(d, yamlsrc.YamlError) else (d.line, repr(d.data)) for d in found]


@settings(max_examples=500, deadline=None, derandomize=True)  # the same texts on every run: CI stays steady
@given(pieces=st.lists(st.sampled_from(YAML_PIECES), min_size=1, max_size=12))
def test_libyaml_and_the_python_parser_read_every_text_alike(pieces: list[str]) -> None:
    """The fast path (libyaml, for short texts) gives what the Python parser gives, errors included."""
    text = "".join(pieces)
    assert _read(text) == _read(text, yaml.SafeLoader), text


@pytest.mark.skipif(yamlsrc._FAST is None, reason="PyYAML without libyaml")
@pytest.mark.parametrize("text", ["a: 1\t\n", "[a, b\t]\n", "\ufeff\ufeffa\n", "\r\ufeff", "[a?]\n", "{a? }\n",
                                  "suffix: !\n"])
def test_texts_the_parsers_disagree_on_go_to_the_python_parser(text: str) -> None:
    assert _read(text, yamlsrc._FAST) != _read(text, yaml.SafeLoader)  # a real disagreement...
    assert _read(text) == _read(text, yaml.SafeLoader)  # ...settled by the Python parser


@pytest.mark.parametrize(("text", "line", "message"), [
    ("seed: !!int x\n", 1, "invalid YAML: 'x' is not a valid !!int"),
    ("a: 1\nseed: !!int\n", 2, "invalid YAML: '' is not a valid !!int"),
    ("when:\n  - !!timestamp 2020-13-45\n", 2, "invalid YAML: '2020-13-45' is not a valid !!timestamp"),
])
def test_a_value_not_of_its_type_is_an_error_at_its_line(text: str, line: int, message: str) -> None:
    for parser in (yaml.SafeLoader, yamlsrc._FAST) if yamlsrc._FAST else (yaml.SafeLoader,):
        assert _read(text, parser) == [(line, message)]


@pytest.mark.parametrize("depth", [yamlsrc.FAST_MAX_CHARS // 2, yamlsrc.FAST_MAX_CHARS])
def test_the_deepest_text_libyaml_is_given_is_refused_cleanly(depth: int) -> None:
    (refused,) = list(yamlsrc.load_documents("[" * depth))  # unclosed: as deep as the text is long
    assert isinstance(refused, yamlsrc.YamlError)
