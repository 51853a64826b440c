"""Whether a manifest runs as it is on a target: the one set of checks behind ``validate --provider``,
``plan`` against a provider, and ``ftctl port --to`` (SPEC §7, §12).

A provider profile says what its service offers; a manifest is held to it field by field:

* the model: a base model the service fine-tunes, with the manifest's method (a fine-tuned model is
  held to its root base); where the service takes any model name, the method alone;
* the grader: every grader of the tree of a type the service has (Azure documents no python grader;
  Bedrock grades with an AWS Lambda function, which no manifest can name yet);
* the suffix: its length, and its characters where the service is stricter (Azure: no dots), or its
  absence where the service takes none;
* the training type, where the service needs one on every create (Azure's ``trainingType``): the
  manifest's ``provider_options.azure.training_type``, else ftctl.yaml's ``target.azure.training_type``
  — of the types the service offers for that model;
* ``state: paused``, where the service cannot pause a job;
* a field the service has no use for (``Provider.refused_fields``: OPEA's has no validation file, no
  integrations, no metadata, no learning-rate multiplier): sent, it would be lost without a word.

Each problem names the field it is about, so that it can be shown at its line.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass

from reconciler import catalog
from reconciler.diagnostics import FieldPath
from reconciler.manifests.graders import walk
from reconciler.manifests.model import Manifest, ReinforcementMethod, is_file_id
from reconciler.providers import Provider

TRAINING_TYPE = ("provider_options", "azure", "training_type")


@dataclass(frozen=True)
class Mismatch:
    path: FieldPath
    message: str


def mismatches(m: Manifest, provider: Provider, training_type: str | None = None,
               extra_models: frozenset[str] = frozenset(), model: str | None = None) -> Iterator[Mismatch]:
    """What keeps ``m`` from running as it is on ``provider``; ``training_type``: ftctl.yaml's default;
    ``model``: the base model to hold it to (a pipeline stage's root; None: not known yet)."""
    if model is not None:
        yield from _model(m, model, provider, extra_models)
    if isinstance(m.method, ReinforcementMethod) and provider.graders:  # none: refused_fields says why
        for path, grader in walk(m.method.grader):
            if grader.type not in provider.graders:
                yield Mismatch((*path, "type"), f"{provider.label} has no {grader.type} grader (it has "
                                                f"{', '.join(sorted(provider.graders))})")
    yield from _suffix(m.suffix, provider)
    yield from _training_type(m, model, provider, training_type)
    if not provider.keeps_metadata and is_file_id(m.training_file) and m.job_id is None:
        yield Mismatch(("training_file",), f"{provider.label} keeps no metadata: ftctl finds a job there by the name "
                                           "of its training file, which it uploads for each job; give the local file")
    if m.state == "paused" and not provider.pauses:
        yield Mismatch(("state",), f"{provider.label} cannot pause a job: use state active or cancelled")
    yield from _refused(m, provider)


def _refused(m: Manifest, provider: Provider) -> Iterator[Mismatch]:
    for dotted_path, why in provider.refused_fields.items():
        path = tuple(dotted_path.split("."))
        value: object = m
        for part in path:
            value = getattr(value, part, None)
        if value not in (None, "auto", {}, [], ()):
            yield Mismatch(path, f"{provider.label} {why}")


def _model(m: Manifest, model: str, provider: Provider, extra_models: frozenset[str]) -> Iterator[Mismatch]:
    base = catalog.base_of(model)
    offered = provider.offers(base)
    if offered is None and provider.methods is not None and m.method.type not in provider.methods:
        yield Mismatch(("method", "type"), f"{provider.label} fine-tunes with {', '.join(sorted(provider.methods))} "
                                           f"only, not {m.method.type}")
    if offered is None or extra_models & {model, base}:
        return
    if not offered:
        able = ", ".join(sorted(model for model, methods in (provider.models or {}).items()
                                if m.method.type in methods)) or "none"
        yield Mismatch(("model",), f"{provider.label} does not fine-tune {base}; with method {m.method.type} it "
                                   f"fine-tunes: {able}")
    elif m.method.type not in offered:
        yield Mismatch(("method", "type"), f"{provider.label} fine-tunes {base} with {', '.join(sorted(offered))} "
                                           f"only, not {m.method.type}")


def _suffix(suffix: str | None, provider: Provider) -> Iterator[Mismatch]:
    if suffix is None:
        return
    if not provider.suffix_supported:
        yield Mismatch(("suffix",), f"{provider.label} takes no suffix: remove it")
        return
    if len(suffix) > provider.suffix_max:
        yield Mismatch(("suffix",), f"{len(suffix)} characters; {provider.label} allows at most {provider.suffix_max}")
    if provider.suffix_chars is not None and not re.fullmatch(provider.suffix_chars, suffix):
        bad = sorted({c for c in suffix if not re.fullmatch(provider.suffix_chars, c)})
        yield Mismatch(("suffix",), f"{provider.label} allows only letters, digits, '-' and '_' in a suffix, not "
                                    f"{', '.join(map(repr, bad))}")


def training_type_of(m: Manifest, default: str | None) -> str | None:
    azure = m.provider_options.azure if m.provider_options else None
    return (azure.training_type if azure else None) or default


def _training_type(m: Manifest, model: str | None, provider: Provider, default: str | None) -> Iterator[Mismatch]:
    if provider.training_types is None or m.job_id is not None or m.state == "cancelled":
        return  # needed by a create only
    chosen = training_type_of(m, default)
    offered = provider.training_types.get(catalog.base_of(model)) if model is not None else None
    if chosen is None:
        yield Mismatch(TRAINING_TYPE, f"{provider.label} needs a training type with every create (without one "
                                      "it answers that the model does not support fine-tuning): set "
                                      "provider_options.azure.training_type in the manifest, or "
                                      "target.azure.training_type in ftctl.yaml (globalstandard, standard or "
                                      "developer)")
    elif offered is not None and chosen not in offered:
        yield Mismatch(TRAINING_TYPE, f"{provider.label} trains {catalog.base_of(model or '')} with training type "
                                      f"{' or '.join(sorted(offered))} only, not {chosen}")
