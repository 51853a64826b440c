"""When providers stop training and serving: a dated table shipped as data, and the verdicts drawn
from it (SPEC §12).

``reconciler/data/lifecycle.json`` holds, per provider, the day new fine-tuning jobs end, and per
provider and base model, the day training on it ends and the day fine-tuned models of it stop being
served — each entry with the page it was read from and the day it was checked. ``ftctl.yaml``
``lifecycle:`` adds entries or overrides them (an enterprise agreement keeps a model longer).

A verdict is drawn against today's date (one injectable clock, ``FTCTL_TODAY``): ``ended`` from the
day itself on, ``soon`` within ``WARN_DAYS`` before it. The embedded sandbox emulates dialects, not
lifecycles: its key ``sandbox`` has no entry unless a test gives it one.
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass
from datetime import date, timedelta
from importlib import resources
from typing import Annotated, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field
from pydantic_core import PydanticCustomError

from reconciler import catalog
from reconciler.docstrings import describe_properties

WARN_DAYS = 30
TITLES = {"openai": "OpenAI", "azure": "Azure OpenAI", "bedrock": "AWS Bedrock", "opea": "the OPEA service",
          "compatible": "the service", "sandbox": "the sandbox"}
Level = Literal["ended", "soon"]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, json_schema_extra=describe_properties)


class Dated(_Strict):
    """One date and where it was read."""

    date: dt.date
    """The day itself (YYYY-MM-DD): from this day on, it has ended."""
    source: Annotated[str, Field(min_length=1)]
    """The page that says so (a URL), or who agreed to it (an enterprise agreement)."""
    checked: dt.date | None = None
    """The day the source was last read."""
    note: str | None = None
    """What the source adds (who it applies to, how sure it is)."""


class ModelDates(_Strict):
    """What ends for one base model on one provider; either date may be unknown."""

    training_ends: Dated | None = None
    """From this day, no new fine-tuning job on this model (or a fine-tuned model of it)."""
    serving_ends: Dated | None = None
    """From this day, fine-tuned models of this base are no longer served."""


class ProviderDates(_Strict):
    fine_tuning_ends: Dated | None = None
    """From this day, the provider creates no fine-tuning job at all."""
    models: dict[str, ModelDates] = Field(default_factory=dict)
    """By base model snapshot (the catalog's name; aliases are resolved before looking up)."""


def _provider(name: str) -> str:
    if name not in TITLES:  # a misspelt provider's dates would silently apply to nothing
        raise PydanticCustomError("provider", "unknown provider '{name}' (known: {known})",
                                  {"known": ", ".join(TITLES), "name": name})
    return name


ProviderKey = Annotated[str, AfterValidator(_provider)]


class Table(_Strict):
    """The whole table, or the part of it ``ftctl.yaml`` gives (``lifecycle:``), by provider name."""

    about: str | None = Field(default=None, alias="_about")
    """What the table is (the data file says so in its first key)."""
    providers: dict[ProviderKey, ProviderDates] = Field(default_factory=dict)
    """By provider: openai, azure, bedrock, opea, compatible, or sandbox (for tests)."""




@dataclass(frozen=True)
class Verdict:
    level: Level
    who: str
    stops: tuple[str, str]
    """What ends, as (present, past): ("stops creating fine-tuning jobs", "stopped creating …")."""
    when: Dated

    def text(self, today: date) -> str:
        days = (self.when.date - today).days
        if self.level == "ended":
            return f"{self.who} {self.stops[1]} on {self.when.date} (source: {self.when.source})"
        return (f"{self.who} {self.stops[0]} on {self.when.date}, in {days} day{'s' if days != 1 else ''} "
                f"(source: {self.when.source})")


def builtin() -> Table:
    raw = resources.files("reconciler").joinpath("data/lifecycle.json").read_text(encoding="utf-8")
    return Table.model_validate(json.loads(raw))


def merged(base: Table, extra: Table | None) -> Table:
    """``base`` with ``extra``'s entries added, each given date replacing the base's."""
    if extra is None:
        return base
    providers = dict(base.providers)
    for name, more in extra.providers.items():
        had = providers.get(name, ProviderDates())
        models = dict(had.models)
        for model, dates in more.models.items():
            old = models.get(catalog.base_of(model), ModelDates())
            models[catalog.base_of(model)] = ModelDates(training_ends=dates.training_ends or old.training_ends,
                                                        serving_ends=dates.serving_ends or old.serving_ends)
        providers[name] = ProviderDates(fine_tuning_ends=more.fine_tuning_ends or had.fine_tuning_ends, models=models)
    return Table(providers=providers, _about=base.about)


def _verdict(provider: str, stops: tuple[str, str], when: Dated | None, today: date) -> Verdict | None:
    if when is None or today + timedelta(days=WARN_DAYS) < when.date:
        return None
    return Verdict("ended" if today >= when.date else "soon", TITLES.get(provider, provider), stops, when)


def training(table: Table, provider: str, model: str, today: date) -> list[Verdict]:
    """What stands in the way of a new fine-tuning job of ``model`` on ``provider``: the provider's end
    of fine-tuning, and the end of training on the model's base (a fine-tuned model's root base)."""
    dates = table.providers.get(provider)
    if dates is None:
        return []
    base = catalog.base_of(model)
    found = [_verdict(provider, ("stops creating fine-tuning jobs", "stopped creating fine-tuning jobs"),
                      dates.fine_tuning_ends, today)]
    model_dates = dates.models.get(base)
    if model_dates is not None:
        found.append(_verdict(provider, (f"stops fine-tuning {base}", f"stopped fine-tuning {base}"),
                              model_dates.training_ends, today))
    return sorted((v for v in found if v is not None), key=lambda v: (v.level != "ended", v.when.date))


def serving(table: Table, provider: str, fine_tuned_model: str, today: date) -> Verdict | None:
    """When ``fine_tuned_model`` stops being served on ``provider``, if that is within the warning span."""
    dates = table.providers.get(provider)
    model_dates = dates.models.get(catalog.base_of(fine_tuned_model)) if dates is not None else None
    if model_dates is None:
        return None
    return _verdict(provider, (f"stops serving {fine_tuned_model}", f"stopped serving {fine_tuned_model}"),
                    model_dates.serving_ends, today)
