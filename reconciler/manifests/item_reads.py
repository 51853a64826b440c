"""The fields of a data line that a python grader's code reads, found by reading the code.

A template grader says what it reads (``{{item.label}}``), and every data line is checked for it.
A python grader says so in code: ``item["label"]``, ``item.get("label")``. A field no line has is
the same mistake either way — every sample would be graded as wrong, a training run paid for
nothing — so the reads of ``grade(sample, item)`` are found with ``ast`` and checked against the
data alike (``reconciler.datasets.check``).

Only what the code states is taken, never guessed: reads with literal keys (strings, or integers
for a list) on the parameter ``grade`` takes second, chained as far as they stay literal
(``item["meta"]["source"]`` reads ``meta.source``, ``item["scores"][k]`` reads ``scores``). A read
the code itself allows to miss requires nothing: ``item.get("x", default)``, or ``item["x"]``
where the code tests ``"x" in item``. When grade binds the parameter's name again (an assignment,
a loop, a comprehension, a parameter of a function inside), which object a read is of is no longer
plain, and nothing is required. Functions other than ``grade`` are not followed.
"""

from __future__ import annotations

import ast
import json
from collections.abc import Iterator
from dataclasses import dataclass


@dataclass(frozen=True)
class Read:
    """A field read: the line of its first read in the code, and that read as a message shows it."""

    line: int
    text: str


Step = tuple[str, str]
"""One key of a read, and that step as shown: ``["label"]``, ``[0]``, ``.get("hint")``."""


def item_reads(code: str) -> dict[str, Read]:
    """The fields (``a.b`` for nested ones) that ``grade`` reads from its second parameter with
    literal keys, each with its first read; empty when the code does not parse or has no such grade."""
    try:
        tree = ast.parse(code.removeprefix("\ufeff"))
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        return {}  # graders_check says what is wrong with it
    found = _grade(tree)
    if found is None:
        return {}
    name, body = found
    if _rebinds(body, name):
        return {}
    guarded = _tested_with_in(body, name)
    reads: dict[str, Read] = {}
    for node in _nodes(body):
        written = isinstance(getattr(node, "ctx", None), ast.Store | ast.Del)  # item["x"] = 1 is no read of x
        if written or not isinstance(node, ast.Subscript | ast.Call):
            continue
        steps = _steps(node, name)
        if not steps or steps[0][0] in guarded:
            continue
        field = ".".join(key for key, _ in steps)
        if field not in reads or node.lineno < reads[field].line:
            reads[field] = Read(node.lineno, name + "".join(shown for _, shown in steps))
    return {f: r for f, r in reads.items() if not any(other.startswith(f + ".") for other in reads)}


def _grade(tree: ast.Module) -> tuple[str, list[ast.AST]] | None:
    """The name of the second positional parameter of the last top-level ``grade``, and its body."""
    found: tuple[ast.arguments, list[ast.AST]] | None = None
    for node in tree.body:
        if isinstance(node, ast.FunctionDef) and node.name == "grade":
            found = (node.args, list(node.body))
        elif isinstance(node, ast.Assign) and any(isinstance(t, ast.Name) and t.id == "grade" for t in node.targets):
            found = (node.value.args, [node.value.body]) if isinstance(node.value, ast.Lambda) else None
    if found is None:
        return None
    positional = [*found[0].posonlyargs, *found[0].args]
    return (positional[1].arg, found[1]) if len(positional) >= 2 else None


def _nodes(body: list[ast.AST]) -> Iterator[ast.AST]:
    return (node for part in body for node in ast.walk(part))


def _rebinds(body: list[ast.AST], name: str) -> bool:
    for node in _nodes(body):
        if isinstance(node, ast.Name) and node.id == name and isinstance(node.ctx, ast.Store | ast.Del):
            return True
        if isinstance(node, ast.arg) and node.arg == name:
            return True
        if isinstance(node, ast.Global | ast.Nonlocal) and name in node.names:
            return True
    return False


def _tested_with_in(body: list[ast.AST], name: str) -> set[str]:
    """Keys the code tests with ``"x" in item`` (or ``not in``): it is ready for them to be missing."""
    keys = set()
    for node in _nodes(body):
        if (isinstance(node, ast.Compare) and isinstance(node.left, ast.Constant) and isinstance(node.left.value, str)
                and any(isinstance(op, ast.In | ast.NotIn) for op in node.ops)
                and any(isinstance(c, ast.Name) and c.id == name for c in node.comparators)):
            keys.add(node.left.value)
    return keys


def _steps(node: ast.AST, name: str) -> list[Step] | None:
    """The literal keys by which ``node`` reads from ``name``, outermost last; [] for the name itself;
    None when ``node`` is no such read."""
    if isinstance(node, ast.Name):
        return [] if node.id == name else None
    if isinstance(node, ast.Subscript):
        key = node.slice
        if not isinstance(key, ast.Constant) or not isinstance(key.value, str | int) or isinstance(key.value, bool):
            return None
        base = _steps(node.value, name)
        return None if base is None else [*base, (str(key.value), f"[{json.dumps(key.value)}]")]
    if (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == "get"
            and len(node.args) == 1 and not node.keywords and isinstance(node.args[0], ast.Constant)
            and isinstance(node.args[0].value, str)):
        base = _steps(node.func.value, name)
        return None if base is None else [*base, (node.args[0].value, f".get({json.dumps(node.args[0].value)})")]
    return None

