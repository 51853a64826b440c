"""The base of every model that holds user input: unknown keys and loose types are errors."""

from __future__ import annotations

import contextlib
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, PlainSerializer, PlainValidator
from pydantic_core import PydanticCustomError

from reconciler.docstrings import describe_properties


class Strict(BaseModel):
    """Strict in: ``extra="forbid"`` turns a typo into an error; ``strict`` refuses "3" for 3. Each
    field's docstring (the string below it) is its description in ``ftctl schema``."""

    model_config = ConfigDict(extra="forbid", strict=True, frozen=True, json_schema_extra=describe_properties)


class Frozen(BaseModel):
    """The base of ftctl's own values (requests, plans): immutable, and no field that is not declared
    (a plan file with an extra key is not a plan this version wrote)."""

    model_config = ConfigDict(frozen=True, extra="forbid")


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
