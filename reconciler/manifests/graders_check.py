"""Graders checked offline, before a reinforcement job is paid for.

* ``calculate_output`` is parsed with Python's ``ast`` and held to the formula grammar OpenAI
  documents: numbers, the multi grader's names, ``+ - * / ^``, parentheses, and the functions
  ``FUNCTIONS`` with their number of arguments. Every name must be a grader of the multi grader,
  and every grader must be used.
* A python grader's code must not be empty, must compile, and must define ``grade`` at its top
  level so that ``grade(sample, item)`` can be called.
* Templates read ``{{item.…}}`` (a field of each data line: ``datasets`` checks every line has it,
  as it does the fields a python grader's code reads, found by ``item_reads``) or ``{{sample.…}}``,
  whose first part must be something a sample offers (``SAMPLE_FIELDS``).
"""

from __future__ import annotations

import ast
import difflib
import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from reconciler.diagnostics import FieldPath
from reconciler.manifests.graders import AnyGrader, LabelModelGrader, MultiGrader, PythonGrader, walk

ARITY = {"min": (1, None), "max": (1, None), "abs": (1, 1), "floor": (1, 1), "ceil": (1, 1), "exp": (1, 1),
         "sqrt": (1, 1), "log": (1, 1)}
"""The functions a formula may call, with their least and most arguments."""
FUNCTIONS = frozenset(ARITY)
MAX_FORMULA = 2_000
"""Characters of a formula: far beyond a real one, and well before Python's parser runs out of stack."""
SAMPLE_FIELDS = ("output_text", "output_json", "output_tools", "choices")
TEMPLATE = re.compile(r"\{\{\s*(.*?)\s*\}\}")
_OPERATORS = (ast.Add, ast.Sub, ast.Mult, ast.Div, ast.BitXor)  # ^ is power in OpenAI's formulas
_TOO_BIG = (RecursionError, MemoryError)
_KINDS = {ast.Compare: "comparisons (< > ==)", ast.BoolOp: "and / or", ast.IfExp: "if … else",
          ast.Attribute: "attributes (a.b)", ast.Subscript: "indexing (a[0])", ast.NamedExpr: ":=",
          ast.Lambda: "lambda", ast.Tuple: "tuples", ast.List: "lists", ast.Dict: "mappings", ast.Set: "sets"}
_SIGNS = (ast.USub, ast.UAdd)


@dataclass(frozen=True)
class Problem:
    path: FieldPath
    message: str
    source_line: int | None = None
    """For a python grader: the line in its code (of ``source_file``, or of inline ``source``)."""


def check(grader: AnyGrader, path: FieldPath, sources: dict[FieldPath, str]) -> Iterator[Problem]:
    """Problems of ``grader`` (at ``path`` in the manifest) and of the graders inside it; ``sources``:
    the code of each python grader, by its path."""
    yield from _templates(grader, path)
    for where, inner in walk(grader, path):
        yield from _grader(inner, where, sources)


def _grader(grader: AnyGrader, path: FieldPath, sources: dict[FieldPath, str]) -> Iterator[Problem]:
    """The problems of one grader of the tree, its inner graders aside."""
    if isinstance(grader, MultiGrader):
        yield from _formula(grader.calculate_output, set(grader.graders), (*path, "calculate_output"))
    elif isinstance(grader, LabelModelGrader):  # here, not in the model: reported with the rest of the grader
        extra = [label for label in grader.passing_labels if label not in grader.labels]
        if extra:
            yield Problem((*path, "passing_labels"), f"passing_labels must be a subset of labels; not in labels: "
                                                     f"{', '.join(extra)}")
    elif isinstance(grader, PythonGrader):
        code = sources.get(path)
        if code is not None:
            field = "source_file" if grader.source_file is not None else "source"
            yield from _python(code, (*path, field))


def _formula(text: str, names: set[str], path: FieldPath) -> Iterator[Problem]:
    if len(text) > MAX_FORMULA:
        yield Problem(path, f"the formula is {len(text):,} characters long; at most {MAX_FORMULA:,}")
        return
    try:
        tree = ast.parse(text.strip(), mode="eval")
    except SyntaxError as exc:
        yield Problem(path, f"not a valid formula ({exc.msg}): {text.strip()!r}")
        return
    except (*_TOO_BIG, ValueError):
        yield Problem(path, "the formula nests too deeply to be read")
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
        allowed = isinstance(node.op, _OPERATORS)
        return None if allowed else f"operator {_symbol(node.op)} is not allowed (use + - * / ^)"
    if isinstance(node, ast.UnaryOp):
        return None if isinstance(node.op, _SIGNS) else f"operator {_symbol(node.op)} is not allowed"
    if isinstance(node, ast.Constant):
        ok = isinstance(node.value, int | float) and not isinstance(node.value, bool)
        return None if ok else f"{node.value!r} is not a number"
    if isinstance(node, ast.Call):
        if not isinstance(node.func, ast.Name) or node.func.id not in FUNCTIONS:
            return f"only these functions can be called: {', '.join(sorted(FUNCTIONS))}"
        if node.keywords or any(isinstance(a, ast.Starred) for a in node.args):
            return f"{node.func.id}() takes plain arguments only"
        low, high = ARITY[node.func.id]
        if len(node.args) < low or (high is not None and len(node.args) > high):
            wants = f"{low}" if low == high else f"at least {low}"
            return f"{node.func.id}() takes {wants} argument{'' if low == 1 else 's'}, not {len(node.args)}"
        return None
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
    kind = _KINDS.get(type(node), type(node).__name__)
    return (f"{kind} not allowed in a formula: use numbers, grader names, + - * / ^, parentheses and "
            f"{', '.join(sorted(FUNCTIONS))}")


def _symbol(op: ast.AST) -> str:
    return {ast.Pow: "**", ast.Mod: "%", ast.FloorDiv: "//", ast.BitAnd: "&", ast.BitOr: "|",
            ast.LShift: "<<", ast.RShift: ">>", ast.Invert: "~", ast.Not: "not", ast.MatMult: "@"}.get(
        type(op), type(op).__name__)


def _python(code: str, path: FieldPath) -> Iterator[Problem]:
    code = code.removeprefix("\ufeff")  # a byte-order mark, as Windows editors write it
    if not code.strip():
        yield Problem(path, "the python grader's code is empty; it must define grade(sample, item)")
        return
    try:
        compile(code, "grader", "exec")
    except SyntaxError as exc:
        yield Problem(path, f"the python grader's code does not compile: {exc.msg}", exc.lineno)
        return
    except (*_TOO_BIG, ValueError) as exc:
        yield Problem(path, f"the python grader's code cannot be compiled: {type(exc).__name__}")
        return
    try:
        tree = ast.parse(code)
    except (SyntaxError, ValueError, *_TOO_BIG):
        return  # compiles, but too big to read here: the service will say
    found: list[tuple[ast.stmt, ast.arguments | None]] = []
    for node in tree.body:
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef) and node.name == "grade":
            found.append((node, node.args))
        elif isinstance(node, ast.Assign) and any(isinstance(t, ast.Name) and t.id == "grade" for t in node.targets):
            found.append((node, node.value.args if isinstance(node.value, ast.Lambda) else None))
    if not found:
        yield Problem(path, "the python grader's code does not define grade(sample, item) at its top level")
        return
    node, args = found[-1]
    if isinstance(node, ast.AsyncFunctionDef):
        yield Problem(path, "grade must be a plain function (def), not async def", node.lineno)
    elif args is not None and (problem := _signature(args)):
        yield Problem(path, f"grade() {problem}; it is called as grade(sample, item)", getattr(node, "lineno", None))


def _signature(args: ast.arguments) -> str | None:
    """Why a function with ``args`` cannot be called with two positional arguments, or None."""
    positional = [*args.posonlyargs, *args.args]
    required = len(positional) - len(args.defaults)
    if len(positional) < 2 and args.vararg is None:
        return f"takes {len(positional)} positional argument{'s' if len(positional) != 1 else ''}"
    if required > 2:
        return f"requires {required} arguments"
    keyword = [a.arg for a, default in zip(args.kwonlyargs, args.kw_defaults, strict=True) if default is None]
    return f"requires the keyword argument(s) {', '.join(keyword)}" if keyword else None


def template_path(ref: str) -> list[str]:
    """``item.tags[0].name`` → ``["item", "tags", "0", "name"]``."""
    return re.sub(r"\[\s*(\d+)\s*\]", r".\1", ref).split(".")


def strings(value: Any, path: FieldPath) -> Iterator[tuple[FieldPath, str]]:
    """Every string in ``value`` (mappings and lists walked), with its path."""
    if isinstance(value, str):
        yield path, value
    elif isinstance(value, dict):
        for key, item in value.items():
            yield from strings(item, (*path, key))
    elif isinstance(value, list):
        for i, item in enumerate(value):
            yield from strings(item, (*path, i))


def _templates(grader: Any, path: FieldPath) -> Iterator[Problem]:
    data = grader.model_dump(exclude_none=True, exclude={"source", "source_file"})
    for where, text in strings(data, path):
        if where[-1] in ("source", "calculate_output"):
            continue
        for ref in TEMPLATE.findall(text):
            parts = template_path(ref)
            if parts[0] == "item" and len(parts) > 1 and all(parts[1:]):
                continue  # checked against every data line by reconciler.datasets
            if parts[0] == "sample" and len(parts) > 1:
                if parts[1] not in SAMPLE_FIELDS:
                    yield Problem(where, f"{{{{{ref}}}}}: a sample offers {', '.join(SAMPLE_FIELDS)}, not {parts[1]!r}")
                continue
            yield Problem(where, f"{{{{{ref}}}}}: a template reads {{{{item.FIELD}}}} (the data line) or "
                                 "{{sample.output_text}} (the model's answer)")
