"""``ftctl metrics NAME``: the training curve of a name's current job, read and drawn.

Two sources give it. A succeeded job has a results file (OpenAI's ``step_metrics.csv``: a row per
step, ``step,train_loss,train_accuracy,valid_loss,…``), complete, so it is preferred; before that (or
where a service keeps none, or the file cannot be read) the job's ``metrics`` events carry the
same numbers (``data``: step, train_loss, train_mean_token_accuracy, valid_loss, …, a reinforcement
job's reward), one event per reported step. Either way the curve keeps the columns that have a
value in some row, in the order the source gives them, a row per step in step order.

The renderings: a table (numbers to four places, a blank where a step has no value), CSV and JSON
(the numbers as read), and markdown — the table, then a mermaid ``xychart-beta`` with the steps on
the x-axis and a line per loss series (``*loss*`` columns; the other series when there is none),
at most ``CHART_POINTS`` evenly chosen steps; a series with a gap at one of them is left out of it
(a mermaid line needs a value at every step), and as mermaid draws no legend, the title names the
lines in order. ``chart`` is the same picture for a terminal, drawn by plotext.
"""

from __future__ import annotations

import csv
import io
import json
import re
from dataclasses import dataclass, field

from reconciler.api.errors import ApiError
from reconciler.api.models import LiveJob
from reconciler.api.ports import ApiReader

Row = dict[str, float | None]
CHART_POINTS = 100
HIDDEN = ("total_steps",)
"""Event fields that are no series (the same on every row)."""


@dataclass
class Curve:
    name: str
    job: LiveJob
    source: str
    """Where the rows came from: ``results file FILE_ID`` or ``events``."""
    columns: list[str] = field(default_factory=list)
    rows: list[Row] = field(default_factory=list)

    @property
    def series(self) -> list[str]:
        """The columns a chart draws: the losses, else every column but the step."""
        values = [c for c in self.columns if c != "step"]
        return [c for c in values if "loss" in c] or values


def training_curve(reader: ApiReader, name: str, job: LiveJob) -> Curve:
    """The curve of ``job`` (NAME's current job): from its results file once it succeeded, else (or
    when that file cannot be read) from its metrics events."""
    if job.status == "succeeded" and job.result_files:  # the file ID, when the service gives one
        try:
            text = reader.file_content(job.result_files[0])
        except ApiError as exc:
            if exc.status != 404:
                raise
        else:
            return _curve(name, job, f"results file {job.result_files[0]}", _csv_rows(text))
    events = sorted((e for e in reader.list_events(job.id) if e.metrics), key=lambda e: e.created_at)
    return _curve(name, job, "events", [{k: _number(v) for k, v in e.metrics.items()} for e in events])


def _number(value: object) -> float | None:
    if isinstance(value, bool) or value is None or value == "":
        return None
    try:
        return float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return None


RESULT_NAMES = {"train_accuracy": "train_mean_token_accuracy", "valid_accuracy": "valid_mean_token_accuracy"}
"""The results file's column names that differ from the metrics events' for the same number: a curve
keeps the events' names, so that its columns do not change when the job finishes."""


def _csv_rows(text: str) -> list[Row]:
    return [{RESULT_NAMES.get(k.strip(), k.strip()): _number(v) for k, v in row.items() if k}
            for row in csv.DictReader(io.StringIO(text))]


def _curve(name: str, job: LiveJob, source: str, raw: list[Row]) -> Curve:
    by_step: dict[float, Row] = {}
    for row in raw:
        step = row.get("step")
        if step is not None:
            by_step.setdefault(step, {}).update({k: v for k, v in row.items() if v is not None})
    columns: list[str] = []
    for row in raw:
        columns += [k for k, v in row.items() if v is not None and k not in columns and k not in HIDDEN]
    rows = [{c: by_step[step].get(c) for c in columns} for step in sorted(by_step)]
    return Curve(name, job, source, columns, rows)


def _cell(column: str, value: float | None, places: int = 4) -> str:
    if value is None:
        return ""
    if column == "step":
        return str(int(value))
    return f"{value:.{places}f}"


def _raw(column: str, value: float | None) -> float | int | None:
    return int(value) if value is not None and column == "step" else value


def heading(curve: Curve) -> str:
    steps = len(curve.rows)
    return f"{curve.name}: {curve.job.id} ({curve.job.status}), {steps} step{'s' if steps != 1 else ''} from " \
           f"its {curve.source}"


def empty_message(curve: Curve) -> str:
    later = "" if curve.job.terminal else " yet"
    return f"{curve.name}: {curve.job.id} ({curve.job.status}) has no training metrics{later}."


def as_table(curve: Curve) -> str:
    """Right-aligned columns, two spaces apart, under the heading."""
    cells = [curve.columns, *([_cell(c, row[c]) for c in curve.columns] for row in curve.rows)]
    widths = [max(len(row[i]) for row in cells) for i in range(len(curve.columns))]
    lines = ["  ".join(cell.rjust(w) for cell, w in zip(row, widths, strict=True)).rstrip() for row in cells]
    return "\n".join([heading(curve), "", *lines])


def as_csv(curve: Curve) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(curve.columns)
    writer.writerows([["" if (v := _raw(c, row[c])) is None else v for c in curve.columns] for row in curve.rows])
    return out.getvalue().rstrip("\n")


def as_json(curve: Curve) -> str:
    return json.dumps([{c: _raw(c, row[c]) for c in curve.columns} for row in curve.rows], indent=2)


def _chosen(rows: list[Row], most: int = CHART_POINTS) -> list[Row]:
    """At most ``most`` rows, evenly spread, the first and last kept."""
    if len(rows) <= most:
        return rows
    return [rows[round(i * (len(rows) - 1) / (most - 1))] for i in range(most)]


def as_markdown(curve: Curve) -> str:
    header = "| " + " | ".join(curve.columns) + " |"
    rule = "|" + "|".join("---:" for _ in curve.columns) + "|"
    body = ["| " + " | ".join(_cell(c, row[c]) for c in curve.columns) + " |" for row in curve.rows]
    chosen = _chosen(curve.rows)
    drawn = [s for s in curve.series if all(row[s] is not None for row in chosen)]  # a line needs every step
    steps = ", ".join(_cell("step", row["step"]) for row in chosen)
    lines = [f'    line [{", ".join(_cell(s, row[s]) for row in chosen)}]' for s in drawn]
    chart = ["```mermaid", "xychart-beta", f'    title "{curve.name}: {", ".join(drawn)}"',
             f'    x-axis "step" [{steps}]', f'    y-axis "{_axis(drawn)}"', *lines, "```"]
    return "\n".join([f"### {heading(curve)}", "", header, rule, *body, *(["", *chart] if drawn else [])])


def _axis(series: list[str]) -> str:
    return "loss" if all("loss" in s for s in series) else "value"


def chart(curve: Curve, width: int, height: int = 20) -> str:
    """The series as lines on a terminal chart of ``width`` columns (plotext, no colour codes)."""
    import plotext as plt

    plt.clear_figure()
    plt.plotsize(width, height)
    plt.theme("clear")
    for series in curve.series:
        points = [(row["step"], row[series]) for row in curve.rows if row[series] is not None]
        plt.plot([p[0] for p in points], [p[1] for p in points], label=series, marker="braille")
    plt.title(f"{curve.name}: {_axis(curve.series)} by step")
    plt.xlabel("step")
    return re.sub(r"\x1b\[[0-9;]*m", "", str(plt.build()))  # its "clear" theme still resets colours
