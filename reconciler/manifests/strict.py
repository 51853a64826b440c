"""The base of every model that holds user input: unknown keys and loose types are errors."""

from __future__ import annotations

import ast
import contextlib
import inspect
import itertools
import textwrap
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, PlainSerializer, PlainValidator
from pydantic_core import PydanticCustomError


def field_docs(model: type[BaseModel]) -> dict[str, str]:
    """The docstring written below each field of ``model`` and of the models it extends (its own first).

    Pydantic's ``use_attribute_docstrings`` reads the same, but at import, for every model: some tens
    of milliseconds on every command. Read here, it costs only ``ftctl schema``, the one command that
    shows them."""
    docs: dict[str, str] = {}
    for cls in model.__mro__:
        if not issubclass(cls, BaseModel) or cls is BaseModel:
            continue
        try:
            tree = ast.parse(textwrap.dedent(inspect.getsource(cls)))
        except (OSError, TypeError, SyntaxError):  # no source at hand (a frozen build): no descriptions
            continue
        body = tree.body[0].body if tree.body and isinstance(tree.body[0], ast.ClassDef) else []
        for stmt, after in itertools.pairwise(body):
            if (isinstance(stmt, ast.AnnAssign) and isinstance(stmt.target, ast.Name) and isinstance(after, ast.Expr)
                    and isinstance(after.value, ast.Constant) and isinstance(after.value.value, str)):
                paragraphs = inspect.cleandoc(after.value.value).split("\n\n")  # wrapped lines joined again
                docs.setdefault(stmt.target.id, "\n\n".join(" ".join(p.split()) for p in paragraphs))
    return docs


def _describe_properties(schema: dict[str, Any], model: type[Any]) -> None:
    """Each property of a model's JSON Schema described by its field's docstring, for editors."""
    docs = field_docs(model)
    for name, prop in schema.get("properties", {}).items():
        if isinstance(prop, dict) and name in docs and not prop.get("description"):
            prop["description"] = docs[name]


class Strict(BaseModel):
    """Strict in: ``extra="forbid"`` turns a typo into an error; ``strict`` refuses "3" for 3. Each
    field's docstring (the string below it) is its description in ``ftctl schema``."""

    model_config = ConfigDict(extra="forbid", strict=True, frozen=True, json_schema_extra=_describe_properties)


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def auto_or_int(low: int, high: int | None = None) -> PlainValidator:
    """Validator for ``"auto"`` or an integer in [low, high]: one clear message, not a union's two."""
    span = f"between {low} and {high}" if high is not None else f"of at least {low}"

    def check(value: Any) -> Literal["auto"] | int:
        if value == "auto" and isinstance(value, str):
            return "auto"
        if isinstance(value, int) and not isinstance(value, bool) and low <= value <= (high or value):
            return value
        raise PydanticCustomError("auto_or_int", f'must be "auto" or an integer {span}, got {{got}}',
                                  {"got": repr(value)})

    return PlainValidator(check, json_schema_input_type=Literal["auto"] | Annotated[int, Field(ge=low, le=high)])


AS_WRITTEN = PlainSerializer(lambda value: value, return_type=Any)
"""Serialise a checked value as it was written: ``2`` stays the integer the spec hash has always seen
(a float field given an int would otherwise warn on every dump)."""


def auto_or_float(above: float, high: float | None = None) -> PlainValidator:
    """``"auto"`` or a number strictly above ``above`` (and at most ``high``)."""
    span = f"greater than {above}" + (f" and at most {high}" if high is not None else "")

    def check(value: Any) -> Literal["auto"] | float:
        if value == "auto" and isinstance(value, str):
            return "auto"
        if _is_number(value) and value > above and (high is None or value <= high):
            return value  # type: ignore[no-any-return]
        hint = ""
        if isinstance(value, str):
            with contextlib.suppress(ValueError):
                hint = f" (YAML reads {value} as text: write {float(value)!r})"
        raise PydanticCustomError("auto_or_float", f'must be "auto" or a number {span}, got {{got}}{hint}',
                                  {"got": repr(value)})

    return PlainValidator(check, json_schema_input_type=Literal["auto"] | Annotated[float, Field(gt=above, le=high)])
