"""Training prices, and the prices of answers (inference, for evaluations), from a dated table kept
as data (``reconciler/data/prices.json``).

Users override it with ``--prices FILE`` or ``FTCTL_PRICES`` (resolved by the CLI's settings): same
shape, their own numbers.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from reconciler import catalog

Price = Annotated[float, Field(ge=0, allow_inf_nan=False)]


class InferencePrice(BaseModel):
    """Per 1M tokens: a base model's prompt and answer tokens, and those of a model fine-tuned from it."""

    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)

    input: Price
    output: Price
    fine_tuned_input: Price | None = None
    fine_tuned_output: Price | None = None


class PriceTable(BaseModel):
    """The file's shape, strictly: a typo or a wrong type is an error naming the field."""

    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)

    as_of: Annotated[str, Field(min_length=1)]
    currency: Annotated[str, Field(pattern=r"^[A-Z]{3}$")] = "USD"
    source: str | None = None
    training_per_million_tokens: dict[str, Price] = {}
    training_per_hour: dict[str, Price] = {}
    inference_per_million_tokens: dict[str, InferencePrice] = {}
    inference_source: str | None = None

    @model_validator(mode="after")
    def _some_prices(self) -> PriceTable:
        if not self.training_per_million_tokens and not self.training_per_hour:
            raise ValueError("no prices: give training_per_million_tokens (and training_per_hour for models "
                             "billed by time), each a mapping of model snapshot to price")
        return self


@dataclass(frozen=True)
class Prices:
    as_of: str
    currency: str
    per_million: dict[str, float]
    per_hour: dict[str, float]
    origin: str
    inference: dict[str, InferencePrice] = field(default_factory=dict)

    def training_cost(self, model: str, method: str, trained_tokens: int) -> float | None:
        """The cost by trained tokens, or None when the method is billed otherwise (reinforcement
        fine-tuning is billed by training time) or the price is not known."""
        snapshot = catalog.base_of(model)
        if method == "reinforcement" or snapshot not in self.per_million:
            return None
        return trained_tokens / 1_000_000 * self.per_million[snapshot]

    def answer_cost(self, model: str, prompt_tokens: int, completion_tokens: int) -> float | None:
        """What ``model`` charges for these tokens (a fine-tuned model at its base's fine-tuned price), or
        None when the price is not known."""
        price = self.inference.get(catalog.base_of(model))
        if price is None:
            return None
        tuned = catalog.is_fine_tuned(model)
        rates = (price.fine_tuned_input, price.fine_tuned_output) if tuned else (price.input, price.output)
        if rates[0] is None or rates[1] is None:
            return None
        return (prompt_tokens * rates[0] + completion_tokens * rates[1]) / 1_000_000

    def hourly(self, model: str, method: str) -> float | None:
        return self.per_hour.get(catalog.base_of(model)) if method == "reinforcement" else None


def load_prices(path: Path | None = None) -> Prices:
    """The price table; ``ValueError`` naming the file and field when it is not one."""
    if path is not None:
        origin = str(path)
        try:
            text = path.read_text(encoding="utf-8")
        except UnicodeDecodeError:
            raise ValueError(f"{origin} is not a price table: it is not UTF-8 text") from None
    else:
        text = resources.files("reconciler").joinpath("data/prices.json").read_text(encoding="utf-8")
        origin = "built-in table"
    try:
        table = PriceTable.model_validate_json(text)
    except ValidationError as exc:
        problems = []
        for err in exc.errors(include_url=False):
            where = ".".join(str(p) for p in err["loc"]) or "the file"
            message = "unknown field" if err["type"] == "extra_forbidden" else err["msg"]
            message = message.removeprefix("Value error, ").removeprefix("Input ").removeprefix("Value ")
            message = message[:1].lower() + message[1:]
            problems.append(message if where == "the file" else f"{where}: {message}")
        raise ValueError(f"{origin} is not a price table: {'; '.join(problems)}") from None
    return Prices(table.as_of, table.currency, dict(table.training_per_million_tokens),
                  dict(table.training_per_hour), origin, dict(table.inference_per_million_tokens))
