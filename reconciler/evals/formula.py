"""A multi grader's ``calculate_output``, evaluated without ``eval``.

The graders guide lists the language: the graders' names, ``+ - * / ^`` (power), and ``min max abs
floor ceil exp sqrt log``; numbers and parentheses follow from its examples. It leaves precedence
open: here ``^`` binds tighter than ``* /`` and to the right (``2 ^ 3 ^ 2`` is ``2 ^ 9``), and ``-x ^ 2``
is ``-(x ^ 2)``, as in mathematics; ``log`` is the natural logarithm. To get that, ``^`` becomes
Python's ``**`` before the text is parsed with ``ast`` (a formula holds no strings, so nothing else
can change), and the tree is walked over a whitelist — the same grammar ``graders_check`` holds
manifests to, so a formula that passed ``ftctl validate`` only fails here on numbers: a division by
zero, the log of a non-positive number, an overflow. Those raise ``FormulaError``.
"""

from __future__ import annotations

import ast
import math
import operator
from collections.abc import Callable, Mapping

from reconciler.manifests.graders_check import ARITY

_BINARY: dict[type[ast.operator], Callable[[float, float], float]] = {
    ast.Add: operator.add, ast.Sub: operator.sub, ast.Mult: operator.mul, ast.Div: operator.truediv,
    ast.Pow: operator.pow,
}
_FUNCTIONS: dict[str, Callable[..., float]] = {
    "min": min, "max": max, "abs": abs, "floor": math.floor, "ceil": math.ceil, "exp": math.exp,
    "sqrt": math.sqrt, "log": math.log,
}


class FormulaError(Exception):
    """A formula that cannot be computed for these scores; the message says why."""


def evaluate(formula: str, scores: Mapping[str, float]) -> float:
    """The value of ``formula`` with each grader's name standing for its score."""
    try:
        tree = ast.parse(formula.strip().replace("^", "**"), mode="eval")
    except (SyntaxError, ValueError, RecursionError, MemoryError) as exc:
        raise FormulaError(f"not a valid formula: {formula.strip()!r}") from exc
    try:
        value = _value(tree.body, scores)
    except ZeroDivisionError as exc:
        raise FormulaError("division by zero") from exc
    except OverflowError as exc:
        raise FormulaError("a number grew too large") from exc
    except (ValueError, TypeError) as exc:  # math domain errors (log(0), sqrt(-1)), a complex power
        raise FormulaError(f"cannot be computed: {exc}") from exc
    except RecursionError as exc:
        raise FormulaError("the formula nests too deeply to be computed") from exc
    if not math.isfinite(value):
        raise FormulaError(f"the result is {value}, not a finite number")
    return value


def _value(node: ast.expr, scores: Mapping[str, float]) -> float:
    if isinstance(node, ast.Constant) and isinstance(node.value, int | float) and not isinstance(node.value, bool):
        return float(node.value)
    if isinstance(node, ast.Name):
        if node.id not in scores:
            raise FormulaError(f"{node.id!r} is not a grader of this multi grader")
        return scores[node.id]
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub | ast.UAdd):
        operand = _value(node.operand, scores)
        return -operand if isinstance(node.op, ast.USub) else operand
    if isinstance(node, ast.BinOp) and type(node.op) in _BINARY:
        result = _BINARY[type(node.op)](_value(node.left, scores), _value(node.right, scores))
        if isinstance(result, complex):
            raise ValueError("a negative number to a fractional power")
        return float(result)
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id in _FUNCTIONS \
            and not node.keywords:
        low, high = ARITY[node.func.id]
        if len(node.args) < low or (high is not None and len(node.args) > high):
            raise FormulaError(f"{node.func.id}() takes {low} argument(s), not {len(node.args)}")
        args = [_value(arg, scores) for arg in node.args]
        function = _FUNCTIONS[node.func.id]
        return float(function(args) if node.func.id in ("min", "max") else function(*args))
    raise FormulaError(f"not allowed in a formula: {ast.unparse(node)!r} (use numbers, grader names, + - * / ^, "
                       f"parentheses and {', '.join(sorted(_FUNCTIONS))})")
