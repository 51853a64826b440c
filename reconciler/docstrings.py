"""Field docstrings as schema descriptions: the string written below a model's field is what an editor
shows for it (``ftctl schema``), read only when a schema is made."""

from __future__ import annotations

import ast
import inspect
import itertools
import textwrap
from typing import Any

from pydantic import BaseModel


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


def describe_properties(schema: dict[str, Any], model: type[Any]) -> None:
    """Each property of a model's JSON Schema described by its field's docstring, for editors."""
    docs = field_docs(model)
    for name, info in getattr(model, "model_fields", {}).items():
        if info.alias and name in docs:  # the schema names a field by its alias
            docs.setdefault(info.alias, docs[name])
    for name, prop in schema.get("properties", {}).items():
        if isinstance(prop, dict) and name in docs and not prop.get("description"):
            prop["description"] = docs[name]
