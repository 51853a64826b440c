"""``ftctl metrics``: the training curve of a name's current job (SPEC §11), exact text of every format
against the in-memory fake API, then once end to end against the sandbox."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import pytest

from reconciler.session import metrics
from reliability.sandbox import SandboxProcess
from tests.fakes import FakeApi
from tests.workspace import Project

RESULTS = """step,train_loss,train_accuracy,valid_loss,valid_mean_token_accuracy
1,2.1,0.5,,
2,1.4,0.62,1.5,0.6
3,0.9,0.75,0.95,0.7
"""


def _curve(api: FakeApi, **job: object) -> metrics.Curve:
    job_id = api.add_job(**{"metadata": {"ftctl-name": "bot", "ftctl-stack": "default"}, **job})
    return metrics.training_curve(api, "bot", api.get_job(job_id))


def _succeeded() -> metrics.Curve:
    api = FakeApi()
    api.contents["file-r1"] = RESULTS
    api.add_event("ftjob-1", "Step 1/3", step=1, train_loss=9.9, total_steps=3)  # the file wins once it exists
    return _curve(api, status="succeeded", result_files=["file-r1"])


def test_the_table_prefers_the_results_file_and_leaves_blanks_where_a_step_has_no_value() -> None:
    # the results file says train_accuracy where the events say train_mean_token_accuracy: one name kept
    assert metrics.as_table(_succeeded()) == """\
bot: ftjob-1 (succeeded), 3 steps from its results file file-r1

step  train_loss  train_mean_token_accuracy  valid_loss  valid_mean_token_accuracy
   1      2.1000                     0.5000
   2      1.4000                     0.6200      1.5000                     0.6000
   3      0.9000                     0.7500      0.9500                     0.7000"""


def test_csv_and_json_give_the_numbers_as_read() -> None:
    curve = _succeeded()
    assert metrics.as_csv(curve) == """\
step,train_loss,train_mean_token_accuracy,valid_loss,valid_mean_token_accuracy
1,2.1,0.5,,
2,1.4,0.62,1.5,0.6
3,0.9,0.75,0.95,0.7"""
    assert metrics.as_json(curve) == json.dumps([  # exactly as the json module indents it
        {"step": 1, "train_loss": 2.1, "train_mean_token_accuracy": 0.5, "valid_loss": None,
         "valid_mean_token_accuracy": None},
        {"step": 2, "train_loss": 1.4, "train_mean_token_accuracy": 0.62, "valid_loss": 1.5,
         "valid_mean_token_accuracy": 0.6},
        {"step": 3, "train_loss": 0.9, "train_mean_token_accuracy": 0.75, "valid_loss": 0.95,
         "valid_mean_token_accuracy": 0.7}],
        indent=2)
    assert metrics.as_json(curve).startswith('[\n  {\n    "step": 1,\n    "train_loss": 2.1,\n')


def test_markdown_is_a_table_and_a_mermaid_chart_of_the_losses_it_can_draw() -> None:
    assert metrics.as_markdown(_succeeded()) == """\
### bot: ftjob-1 (succeeded), 3 steps from its results file file-r1

| step | train_loss | train_mean_token_accuracy | valid_loss | valid_mean_token_accuracy |
|---:|---:|---:|---:|---:|
| 1 | 2.1000 | 0.5000 |  |  |
| 2 | 1.4000 | 0.6200 | 1.5000 | 0.6000 |
| 3 | 0.9000 | 0.7500 | 0.9500 | 0.7000 |

```mermaid
xychart-beta
    title "bot: train_loss"
    x-axis "step" [1, 2, 3]
    y-axis "loss"
    line [2.1000, 1.4000, 0.9000]
```"""


def test_a_running_job_is_read_from_its_metrics_events_oldest_first() -> None:
    api = FakeApi()
    api.add_event("ftjob-1", "Created fine-tuning job")
    for step, loss in ((2, 1.5), (4, 1.1)):
        api.add_event("ftjob-1", f"Step {step}/10", step=step, train_loss=loss,
                      train_mean_token_accuracy=0.5 + step / 10, total_steps=10)
    curve = _curve(api, status="running")
    assert metrics.as_table(curve) == """\
bot: ftjob-1 (running), 2 steps from its events

step  train_loss  train_mean_token_accuracy
   2      1.5000                     0.7000
   4      1.1000                     0.9000"""
    assert metrics.as_markdown(curve).endswith("""\
    x-axis "step" [2, 4]
    y-axis "loss"
    line [1.5000, 1.1000]
```""")


def test_a_reinforcement_curve_without_losses_charts_its_other_series() -> None:
    api = FakeApi()
    api.add_event("ftjob-1", "Step 1/2", step=1, reward=0.25, total_steps=2)
    api.add_event("ftjob-1", "Step 2/2", step=2, reward=0.5, total_steps=2)
    curve = _curve(api, status="running")
    assert curve.columns == ["step", "reward"] and curve.series == ["reward"]
    assert metrics.as_markdown(curve).endswith('y-axis "value"\n    line [0.2500, 0.5000]\n```')


def test_an_unreadable_results_file_falls_back_to_the_events_and_no_metrics_is_said() -> None:
    api = FakeApi()
    api.add_event("ftjob-1", "Step 1/1", step=1, train_loss=0.5, total_steps=1)
    assert _curve(api, status="succeeded", result_files=["file-gone"]).source == "events"
    empty = _curve(FakeApi(), status="validating_files")
    assert empty.rows == []
    assert metrics.empty_message(empty) == "bot: ftjob-1 (validating_files) has no training metrics yet."
    ended = _curve(FakeApi(), status="cancelled")
    assert metrics.empty_message(ended) == "bot: ftjob-1 (cancelled) has no training metrics."


def test_the_terminal_chart_draws_each_loss_series() -> None:
    drawn = metrics.chart(_succeeded(), 60, 12)
    assert "train_loss" in drawn and "bot: loss by step" in drawn and "valid_loss" not in drawn.split("\n")[0]
    assert len(drawn.splitlines()) == 12 and "\x1b" not in drawn


@pytest.mark.e2e
def test_metrics_end_to_end_from_events_then_from_the_results_file(tmp_path: Path, server: SandboxProcess) -> None:
    p = Project(tmp_path / "p", server)
    p.write("bot")
    p.write("checked", extra="validation_file: data/train.jsonl\n")
    assert p.ftctl("apply", "--auto-approve").returncode == 0
    early = p.ftctl("metrics", "bot", paths=False)
    assert early.returncode == 0 and early.stdout.endswith("(validating_files) has no training metrics yet.\n")
    as_json = p.ftctl("metrics", "bot", "-o", "json", paths=False)  # still JSON for a script; the words on stderr
    assert json.loads(as_json.stdout) == [] and "has no training metrics yet" in as_json.stderr
    server.advance(40)  # running: some steps reported
    running = p.ftctl("metrics", "bot", paths=False)
    assert running.returncode == 0, running.stderr
    assert "(running)" in running.stdout and "from its events" in running.stdout
    assert running.stdout.splitlines()[2].split() == ["step", "train_loss", "train_mean_token_accuracy"]
    validated = p.ftctl("metrics", "checked", "-o", "json", paths=False)
    assert set(json.loads(validated.stdout)[0]) == {"step", "train_loss", "train_mean_token_accuracy", "valid_loss",
                                                    "valid_mean_token_accuracy"}
    server.advance(100_000)
    done = p.ftctl("metrics", "bot", "-o", "csv", paths=False)
    assert done.returncode == 0, done.stderr
    rows = list(csv.DictReader(io.StringIO(done.stdout)))
    assert list(rows[0]) == ["step", "train_loss", "train_mean_token_accuracy"]  # no validation file: blank columns
    assert int(rows[-1]["step"]) == 36 and len(rows) == 36  # 12 lines × 3 epochs, every step in the file
    validated = p.ftctl("metrics", "checked", "-o", "csv", paths=False)
    assert validated.stdout.startswith(
        "step,train_loss,train_mean_token_accuracy,valid_loss,valid_mean_token_accuracy\n")
    markdown = p.ftctl("metrics", "bot", "-o", "markdown", paths=False).stdout
    assert "from its results file file-" in markdown and "```mermaid\nxychart-beta\n" in markdown
    unknown = p.ftctl("metrics", "nope", paths=False)
    assert unknown.returncode == 1
    assert unknown.stderr.strip() == "Error: no job named 'nope' in stack 'default' (`ftctl status` lists them)"
