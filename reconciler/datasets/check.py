"""Training data of a set of manifests: format problems as diagnostics, and what each job will cost.

Runs offline, before anything is uploaded or created: ``validate`` and ``plan`` both call it. Each
distinct local file is read once per format (one pass hashes and checks it); the sha256 is handed
on to the spec hash so that nothing is read twice.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict

from reconciler import catalog
from reconciler.datasets.formats import Counter, format_for
from reconciler.datasets.hints import likely_format, method_hint
from reconciler.datasets.pricing import Prices
from reconciler.datasets.report import MAX_LISTED
from reconciler.datasets.scan import Scan, scan_file
from reconciler.diagnostics import Diagnostic, FieldPath, display_path, dotted, plural
from reconciler.manifests.graders_check import strings
from reconciler.manifests.item_reads import item_reads
from reconciler.manifests.loaded import LoadedManifest
from reconciler.providers import Provider

ITEM_FIELD = re.compile(r"\{\{\s*item\.([^{}\s]+?)\s*\}\}")


class Estimate(BaseModel):
    """What a job will train on and cost; ``exact`` tells whether tokens were counted or estimated."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    examples: int
    tokens: int
    exact: bool
    epochs: int
    trained_tokens: int
    cost: float | None
    hourly: float | None
    currency: str
    prices_as_of: str


@dataclass
class Analysis:
    diagnostics: list[Diagnostic] = field(default_factory=list)
    scans: dict[Path, Scan] = field(default_factory=dict)
    estimates: dict[str, Estimate] = field(default_factory=dict)

    @property
    def errors(self) -> list[Diagnostic]:
        return [d for d in self.diagnostics if d.severity == "error"]

    @property
    def warnings(self) -> list[Diagnostic]:
        return [d for d in self.diagnostics if d.severity == "warning"]


def item_fields(grader: dict[str, Any], prefix: str = "method.grader") -> dict[str, str]:
    """Fields a grader reads as ``{{item.FIELD}}`` (``a.b`` for nested ones) → where it reads them."""
    found: dict[str, str] = {}
    for where, text in strings(grader, tuple(prefix.split("."))):
        for name in ITEM_FIELD.findall(text):
            path = re.sub(r"\[\s*(\d+)\s*\]", r".\1", name)  # item.tags[0] reads item.tags.0
            found.setdefault(path, f"{{{{item.{name}}}}} in {dotted(where)}")
    return found


def python_fields(loaded: LoadedManifest, top: FieldPath = ("method", "grader")) -> dict[str, str]:
    """Fields the manifest's python graders read as ``item["FIELD"]`` or ``item.get("FIELD")`` → where:
    the line in the grader's file (``source_file``), or in its inline ``source``."""
    found: dict[str, str] = {}
    for path, code in loaded.python_sources.items():
        if path[:len(top)] != top:
            continue
        file = loaded.local_files.get((*path, "source_file"))
        for name, read in item_reads(code).items():
            where = (f"{display_path(file)}:{read.line}" if file else
                     f"{dotted(path)}.source, line {read.line} of the code")
            found.setdefault(name, f"{read.text} in {where}")
    return found


def grader_fields(loaded: LoadedManifest, top: FieldPath = ("method", "grader")) -> dict[str, str]:
    """Every field of a data line the manifest's grader at ``top`` (the reinforcement grader, or the
    eval's) reads: by template, or in python code."""
    tree = dict(loaded.manifest.grader_trees()).get(top)
    if tree is None:
        return {}
    found = item_fields(tree.model_dump(exclude_none=True), dotted(top))
    for name, where in python_fields(loaded, top).items():
        found.setdefault(name, where)
    return found


class _Checker:
    def __init__(self, prices: Prices, count: Counter | None, provider: Provider | None) -> None:
        self.prices, self.count, self.provider = prices, count, provider
        self.analysis = Analysis()
        self.by_key: dict[tuple[Path, str, tuple[str, ...]], Scan] = {}

    def scan(self, path: Path, fmt: str, context: int | None, required: dict[str, str]) -> tuple[Scan, bool]:
        key = (path, fmt, tuple(sorted(required)))
        first = key not in self.by_key
        if first:
            self.by_key[key] = scan_file(path, fmt, context, required, self.count)
            self.analysis.scans.setdefault(path, self.by_key[key])
        return self.by_key[key], first

    def report_file(self, scan: Scan) -> None:
        shown, report = display_path(scan.path), scan.report
        for severity, problems, unlisted in (("error", report.errors, report.unlisted_errors),
                                             ("warning", report.warnings, report.unlisted_warnings)):
            for p in problems:
                self.analysis.diagnostics.append(Diagnostic(shown, p.line, "", p.text(), severity))
            if unlisted:
                self.analysis.diagnostics.append(Diagnostic(
                    shown, 0, "", f"and {plural(unlisted, 'more ' + severity)} of other kinds in this file (the first "
                             f"{MAX_LISTED} kinds are listed)",
                    severity))

    def manifest(self, loaded: LoadedManifest) -> None:
        m = loaded.manifest
        info = catalog.model_info(loaded.model)
        formats = self.provider.data_formats if self.provider is not None else {}
        fmt = formats.get(m.method.type) or format_for(m.method.type, info.chat if info else True)
        required = grader_fields(loaded)
        for key in ("training_file", "validation_file"):
            path = loaded.local_files.get((key,))
            if path is None:
                continue
            scan, first = self.scan(path, fmt, info.context if info else None, required)
            if first:
                self.report_file(scan)
            if not scan.report.ok:
                other = likely_format(scan.report)
                if other is not None:
                    self.analysis.diagnostics.append(method_hint(loaded, key, path, other))
                    continue
                shown, line = loaded.where((key,))
                self.analysis.diagnostics.append(Diagnostic(
                    shown, line, key, f"{display_path(path)} does not fit the {fmt} format of a {m.method.type} job "
                    "(see the problems listed above)"))
            elif key == "training_file":
                self.analysis.estimates[m.name] = self.estimate(loaded, scan)
        self.evaluation(loaded)

    def evaluation(self, loaded: LoadedManifest) -> None:
        """The eval's items: the evaluation format, every field its grader reads on every line."""
        path = loaded.local_files.get(("eval", "file"))
        if path is None:
            return
        scan, first = self.scan(path, "eval", None, grader_fields(loaded, ("eval", "grader")))
        if first:
            self.report_file(scan)
        if not scan.report.ok:
            shown, line = loaded.where(("eval", "file"))
            self.analysis.diagnostics.append(Diagnostic(
                shown, line, "eval.file", f"{display_path(path)} does not fit the evaluation format (see the "
                "problems listed above)"))

    def estimate(self, loaded: LoadedManifest, scan: Scan) -> Estimate:
        m = loaded.manifest
        report = scan.report
        epochs = m.method.hyperparameters.n_epochs
        default = self.provider.default_epochs if self.provider is not None else None
        n = epochs if isinstance(epochs, int) else default or catalog.auto_epochs(report.examples)
        trained = report.tokens * n
        return Estimate(examples=report.examples, tokens=report.tokens, exact=self.count is not None, epochs=n,
                        trained_tokens=trained, cost=self.prices.training_cost(loaded.model, m.method.type, trained),
                        hourly=self.prices.hourly(loaded.model, m.method.type), currency=self.prices.currency,
                        prices_as_of=self.prices.as_of)


def analyse(loaded: list[LoadedManifest], prices: Prices, count: Counter | None = None,
            provider: Provider | None = None) -> Analysis:
    """Every manifest's data checked (in the formats of ``provider``, where it has its own), and each
    create's cost estimated."""
    checker = _Checker(prices, count, provider)
    for item in loaded:
        checker.manifest(item)
    return checker.analysis
