"""Graders checked offline, before a reinforcement job is paid for.

* ``calculate_output`` is parsed with Python's ``ast`` and held to the formula grammar OpenAI
  documents: numbers, the multi grader's names, ``+ - * /``, parentheses, and the functions
  ``FUNCTIONS``. Every name must be a grader of the multi grader, and every grader must be used.
* A python grader's code must not be empty, must compile, and must define ``grade(sample, item)``
  at its top level.
* Templates read ``{{item.…}}`` (a field of each data line: ``datasets`` checks every line has it)
  or ``{{sample.…}}``, whose first part must be something a sample offers (``SAMPLE_FIELDS``).
"""

from __future__ import annotations

import ast
import difflib
import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from reconciler.manifests.graders import MultiGrader, PythonGrader

FUNCTIONS = frozenset({"min", "max", "abs", "floor", "ceil", "exp", "sqrt", "log"})
SAMPLE_FIELDS = ("output_text", "output_json", "output_tools", "choices")
TEMPLATE = re.compile(r"\{\{\s*(.*?)\s*\}\}")
_OPERATORS = (ast.Add, ast.Sub, ast.Mult, ast.Div)
_SIGNS = (ast.USub, ast.UAdd)
Path_ = tuple[str | int, ...]


@dataclass(frozen=True)
class Problem:
    path: Path_
    message: str
    source_line: int | None = None
    """For a python grader: the line in its code (of ``source_file``, or of inline ``source``)."""


def check(grader: Any, path: Path_, sources: dict[str, str]) -> Iterator[Problem]:
    """Problems of ``grader`` (at ``path`` in the manifest) and of the graders inside it."""
    yield from _templates(grader, path)
    yield from _graders(grader, path, sources)


def _graders(grader: Any, path: Path_, sources: dict[str, str]) -> Iterator[Problem]:
    if isinstance(grader, MultiGrader):
        yield from _formula(grader.calculate_output, set(grader.graders), (*path, "calculate_output"))
        for key, inner in grader.graders.items():
            yield from _graders(inner, (*path, "graders", key), sources)
    elif isinstance(grader, PythonGrader):
        code = sources.get(".".join(map(str, path)))
        if code is not None:
            field = "source_file" if grader.source_file is not None else "source"
            yield from _python(code, (*path, field))


def _formula(text: str, names: set[str], path: Path_) -> Iterator[Problem]:
    try:
        tree = ast.parse(text.strip(), mode="eval")
    except SyntaxError as exc:
        yield Problem(path, f"not a valid formula: {exc.msg} (at character {exc.offset or 1}): {text.strip()!r}")
        return
    used: set[str] = set()
    for node in ast.walk(tree.body):
        problem = _node(node, names, used)
        if problem:
            yield Problem(path, problem)
            return
    unused = sorted(names - used)
    if unused:
        yield Problem(path, f"does not use grader(s) {', '.join(unused)}: every grader of a multi grader must "
                            "appear in its formula")


def _node(node: ast.AST, names: set[str], used: set[str]) -> str | None:
    """Why ``node`` is not allowed in a formula, or None."""
    if isinstance(node, ast.BinOp):
        return None if isinstance(node.op, _OPERATORS) else f"operator {_symbol(node.op)} is not allowed (use + - * /)"
    if isinstance(node, ast.UnaryOp):
        return None if isinstance(node.op, _SIGNS) else f"operator {_symbol(node.op)} is not allowed"
    if isinstance(node, ast.Constant):
        ok = isinstance(node.value, int | float) and not isinstance(node.value, bool)
        return None if ok else f"{node.value!r} is not a number"
    if isinstance(node, ast.Call):
        if not isinstance(node.func, ast.Name) or node.func.id not in FUNCTIONS:
            return f"only these functions can be called: {', '.join(sorted(FUNCTIONS))}"
        return "functions take no keyword arguments" if node.keywords else None
    if isinstance(node, ast.Name):
        if node.id in names:
            used.add(node.id)
            return None
        if node.id in FUNCTIONS:
            return None  # checked as the function of its call
        close = difflib.get_close_matches(node.id, sorted(names), n=1)
        hint = f" (did you mean {close[0]}?)" if close else f" (graders: {', '.join(sorted(names))})"
        return f"{node.id!r} is not a grader of this multi grader{hint}"
    if isinstance(node, ast.operator | ast.unaryop | ast.expr_context):
        return None
    return f"{type(node).__name__.lower()} expressions are not allowed in a formula"


def _symbol(op: ast.AST) -> str:
    return {ast.Pow: "**", ast.Mod: "%", ast.FloorDiv: "//", ast.BitXor: "^", ast.BitAnd: "&", ast.BitOr: "|",
            ast.LShift: "<<", ast.RShift: ">>", ast.Invert: "~", ast.Not: "not", ast.MatMult: "@"}.get(
        type(op), type(op).__name__)


def _python(code: str, path: Path_) -> Iterator[Problem]:
    if not code.strip():
        yield Problem(path, "the python grader's code is empty; it must define grade(sample, item)")
        return
    try:
        tree = ast.parse(code)
        compile(tree, "grader", "exec")
    except SyntaxError as exc:
        yield Problem(path, f"the python grader's code does not compile: {exc.msg}", exc.lineno)
        return
    grade = [n for n in tree.body if isinstance(n, ast.FunctionDef | ast.AsyncFunctionDef) and n.name == "grade"]
    if not grade:
        yield Problem(path, "the python grader's code does not define grade(sample, item) at its top level")
        return
    args = grade[-1].args
    takes = len(args.posonlyargs) + len(args.args)
    if takes < 2 and args.vararg is None:
        yield Problem(path, f"grade() takes {takes} argument(s); it is called as grade(sample, item)",
                      grade[-1].lineno)


def _strings(value: Any, path: Path_) -> Iterator[tuple[Path_, str]]:
    if isinstance(value, str):
        yield path, value
    elif isinstance(value, dict):
        for key, item in value.items():
            yield from _strings(item, (*path, key))
    elif isinstance(value, list):
        for i, item in enumerate(value):
            yield from _strings(item, (*path, i))


def _templates(grader: Any, path: Path_) -> Iterator[Problem]:
    data = grader.model_dump(exclude_none=True, exclude={"source", "source_file"})
    for where, text in _strings(data, path):
        if where[-1] in ("source", "calculate_output"):
            continue
        for ref in TEMPLATE.findall(text):
            parts = ref.split(".")
            if parts[0] == "item" and len(parts) > 1 and all(parts[1:]):
                continue  # checked against every data line by reconciler.datasets
            if parts[0] == "sample" and len(parts) > 1:
                if parts[1] not in SAMPLE_FIELDS:
                    yield Problem(where, f"{{{{{ref}}}}}: a sample offers {', '.join(SAMPLE_FIELDS)}, not {parts[1]!r}")
                continue
            yield Problem(where, f"{{{{{ref}}}}}: a template reads {{{{item.FIELD}}}} (the data line) or "
                                 "{{sample.output_text}} (the model's answer)")
