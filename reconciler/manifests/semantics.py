"""A valid manifest checked against what the service will accept, offline (SPEC §1).

The models check shapes; this module checks meaning, where a mistake would otherwise only show at
apply time or, worse, in a job that starts and fails: a model the catalog does not know (an error
with a "did you mean" when a known name is close, else a warning that names the catalog's date
and how to silence it), a method the model cannot be fine-tuned with (an error naming the models
that can), and graders that would not run (``graders_check``).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date
from pathlib import Path

from reconciler import catalog, lifecycle
from reconciler.diagnostics import Diagnostic, FieldPath, display_path, dotted
from reconciler.manifests import graders_check
from reconciler.manifests.graders import AnyGrader, LabelModelGrader, ScoreModelGrader, walk
from reconciler.manifests.model import Manifest
from reconciler.manifests.targets import mismatches
from reconciler.manifests.yamlsrc import Located
from reconciler.providers import Provider


@dataclass(frozen=True)
class Known:
    """What the user says exists beyond ftctl's catalog (``FTCTL_EXTRA_MODELS``), the provider the
    manifests are for, when known (its limits are checked too), and whose lifecycle dates apply on
    which day (``lifecycle_key``: a provider's name; None: no dates apply)."""

    extra_models: frozenset[str] = frozenset()
    provider: Provider | None = None
    lifecycle_key: str | None = None
    dates: lifecycle.Table | None = None
    today: date | None = None
    training_type: str | None = None
    """ftctl.yaml's ``target.azure.training_type``: what a manifest without its own trains with."""


CATALOG_ONLY = Known()


def check(m: Manifest, doc: Located, shown: str, sources: dict[FieldPath, str], files: dict[FieldPath, Path],
          known: Known) -> list[Diagnostic]:
    model = m.model if isinstance(m.model, str) else None  # a pipeline stage's root: checked once linked
    if model is not None:
        out = list(check_model(model, m.method.type, doc, shown, known))
        if m.job_id is None and m.state != "cancelled":  # a manifest that may create a job
            out += training_dates(model, doc, shown, known)
    else:
        out = []
    if m.suffix is not None and (bad := sorted({c for c in m.suffix if c == ":" or not c.isprintable()})):
        out.append(Diagnostic(shown, doc.line_of(("suffix",)), "suffix", f"the suffix holds "
                              f"{', '.join(map(repr, bad))}: it becomes part of the model name ft:BASE:ORG:SUFFIX:ID"))
    if known.provider is not None:  # what the target offers: the checks of ftctl port
        out += [Diagnostic(shown, doc.line_of(p.path), dotted(p.path), p.message)
                for p in mismatches(m, known.provider, known.training_type, known.extra_models, model)]
    for top, tree in m.grader_trees():  # the reinforcement grader, and the eval's (run by ftctl itself)
        for path, grader in walk(tree, top):
            out += _grader_model(grader, path, doc, shown, known.extra_models)
        for problem in graders_check.check(tree, top, sources):
            field = dotted(problem.path)
            file = files.get(problem.path)
            if file is not None and problem.source_line is not None:  # point into the python file itself
                out.append(Diagnostic(display_path(file), problem.source_line, field, problem.message))
                continue
            message = problem.message
            if problem.source_line is not None:
                message += f" (line {problem.source_line} of the code)"
            out.append(Diagnostic(shown, doc.line_of(problem.path), field, message))
    return out


def _grader_model(grader: AnyGrader, path: FieldPath, doc: Located, shown: str,
                  extra: frozenset[str]) -> Iterator[Diagnostic]:
    """A model grader's model that ftctl does not know: a warning (a new model may be right), with the
    known name it is a near miss of, if any."""
    if not isinstance(grader, ScoreModelGrader | LabelModelGrader):
        return
    name = grader.model
    if not catalog.known_grader_model(name) and name not in extra:
        close = catalog.closest(name)
        where = (*path, "model")
        near = f" (did you mean {close}?)" if close is not None and close != name else ""
        yield Diagnostic(shown, doc.line_of(where), dotted(where),
                         f"{name!r} is not a model ftctl knows{near}: if the API does not know it either, the job "
                         f"fails once it runs (catalog as of {catalog.CATALOG_AS_OF}; if the name is right, "
                         f"FTCTL_EXTRA_MODELS={name} silences this)", "warning")


def training_dates(model: str, doc: Located, shown: str, known: Known) -> Iterator[Diagnostic]:
    """Whether a job of ``model`` can still be created there: an error from the day training ends (on
    the model or on the whole provider), a warning in the weeks before."""
    if known.lifecycle_key is None or known.dates is None or known.today is None:
        return
    for verdict in lifecycle.training(known.dates, known.lifecycle_key, model, known.today):
        ended = verdict.level == "ended"
        advice = ("; `ftctl port --to PROVIDER` shows what moving to another target takes" if ended else "")
        yield Diagnostic(shown, doc.line_of(("model",)), "model", verdict.text(known.today) + advice,
                         "error" if ended else "warning")


def check_model(name: str, method: str, doc: Located, shown: str, known: Known) -> Iterator[Diagnostic]:
    """The model and method checks; they need only these two values, so they run on a manifest with
    other errors too (all of a run's errors are reported together)."""
    base = catalog.base_of(name)
    line = doc.line_of(("model",))
    info = catalog.MODELS.get(base)
    if known.provider is not None and known.provider.models is None and known.provider.methods is not None:
        return  # a service that trains whatever model it is given (OPEA's: a Hugging Face name); targets checks
    if (known.provider is not None and known.provider.name != "azure"
            and catalog.AZURE_FINE_TUNED.match(catalog.resolve_model(name))):
        yield Diagnostic(shown, line, "model", f"{name!r} is Azure OpenAI's name of a fine-tuned model (BASE.ft-ID); "
                         f"on {known.provider.label} a fine-tuned model is named ft:BASE:ORG:SUFFIX:ID (train it "
                         "there anew, or give the model by `from:` in a pipeline)")
        return
    if info is None:
        if known.extra_models & {name, base}:
            return
        if name.startswith("ft:") and not base:
            yield Diagnostic(shown, line, "model", f"{name!r}: a fine-tuned model is named ft:BASE:ORG:SUFFIX:ID")
            return
        what = f"{name!r} is fine-tuned from {base!r}, which" if base != name else f"{name!r}"
        close = catalog.closest(base)
        if close is not None:
            yield Diagnostic(shown, line, "model", f"unknown model: {what} is not a fine-tunable model "
                                                   f"(did you mean {close}? if the name is right, "
                                                   f"FTCTL_EXTRA_MODELS={base} accepts it)")
        else:
            yield Diagnostic(shown, line, "model", f"{what} is not in ftctl's model catalog (as of "
                             f"{catalog.CATALOG_AS_OF}); if it is right, silence this with "
                             f"FTCTL_EXTRA_MODELS={base}", "warning")
        return
    if method not in info.methods and (known.provider is None or known.provider.models is None):
        where = ("method", "type") if ("method", "type") in doc.lines else ("model",)
        able = ", ".join(catalog.models_for(method)) or "none"
        yield Diagnostic(shown, doc.line_of(where), dotted(where),
                         f"{info.snapshot} cannot be fine-tuned with method {method}; models that can: {able}")
