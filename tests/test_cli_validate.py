"""``ftctl validate`` through the real entry point, as a user runs it."""

from __future__ import annotations

import json
import os
import socket
import subprocess
from pathlib import Path

from reliability.sandbox import clean_env
from tests.conftest import ROOT
from tests.workspace import run_ftctl


def ftctl(*args: str, cwd: Path = ROOT) -> subprocess.CompletedProcess[str]:
    return run_ftctl(list(args), cwd, clean_env(), timeout=60)


def test_shipped_manifests_and_examples_are_valid() -> None:
    done = ftctl("validate", "manifests", "examples/manifests")
    assert done.returncode == 0, done.stderr
    assert "9 manifests in 8 files valid; 5 data files with 54 examples checked." in done.stdout


def test_misspelt_field_names_file_line_and_suggestion(repo: Path) -> None:
    (repo / "manifests").mkdir()
    (repo / "data.jsonl").write_text("{}\n")
    (repo / "manifests" / "bot.yaml").write_text(
        "name: bot\nmodel: gpt-4o-mini\ntraining_file: ../data.jsonl\nmethod:\n  type: supervised\n"
        "  hyperparameters:\n    n_epoch: 3\n")
    done = ftctl("validate", cwd=repo)
    assert done.returncode == 1
    assert ("manifests/bot.yaml:7: method.hyperparameters.n_epoch: unknown field (did you mean n_epochs?)"
            in done.stderr)
    assert "Traceback" not in done.stderr


def test_a_grader_mistake_and_the_data_it_misses_are_reported_in_one_run(repo: Path) -> None:
    """The data is checked even when the manifest has errors of its own: one run, every error."""
    (repo / "manifests").mkdir()
    rows = [{"messages": [{"role": "user", "content": f"q{i}"}], "label": "a"} for i in range(12)]
    (repo / "manifests" / "rft.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    (repo / "manifests" / "rft.yaml").write_text(
        "name: rft\nmodel: o4-mini\ntraining_file: rft.jsonl\nmethod:\n  type: reinforcement\n  grader:\n"
        "    type: text_similarity\n    name: s\n    input: '{{sample.output_txt}}'\n"
        "    reference: '{{item.answer}}'\n    evaluation_metric: rouge_l\n")
    done = ftctl("validate", cwd=repo)
    assert done.returncode == 1
    assert "manifests/rft.yaml:9: method.grader.input: {{sample.output_txt}}: a sample offers" in done.stderr
    assert "manifests/rft.jsonl:1: lines 1, 2, 3 and 9 more: no field 'answer'" in done.stderr, done.stderr


def test_escaping_path_is_refused(repo: Path) -> None:
    (repo / "bot.yaml").write_text("name: bot\nmodel: gpt-4o-mini\ntraining_file: ../../etc/passwd\n")
    done = ftctl("validate", "bot.yaml", cwd=repo)
    assert done.returncode == 1
    assert "bot.yaml:3: training_file: path '../../etc/passwd' leaves the project root" in done.stderr


def test_symlink_out_of_the_repository_is_refused(repo: Path) -> None:
    outside = Path(os.path.realpath(repo)).parent / f"outside-{repo.name}.jsonl"
    outside.write_text("{}\n")
    (repo / "link.jsonl").symlink_to(outside)
    (repo / "bot.yaml").write_text("name: bot\nmodel: gpt-4o-mini\ntraining_file: link.jsonl\n")
    done = ftctl("validate", "bot.yaml", cwd=repo)
    assert done.returncode == 1
    assert "bot.yaml:3: training_file: path 'link.jsonl' leaves the project root" in done.stderr


def test_missing_path_is_an_error_not_a_traceback(repo: Path) -> None:
    done = ftctl("validate", "nowhere", cwd=repo)
    assert done.returncode == 1
    assert "nowhere: no such file or directory" in done.stderr
    assert "Traceback" not in done.stderr


def test_unknown_option_exits_1_with_usage(repo: Path) -> None:
    done = ftctl("validate", "--bogus", cwd=repo)
    assert done.returncode == 1
    assert "No such option '--bogus'" in done.stderr


def test_hidden_folders_virtual_environments_and_the_config_are_not_manifests(repo: Path) -> None:
    for folder in (".github/workflows", ".venv/lib", "venv", "node_modules/x"):
        (repo / folder).mkdir(parents=True)
        (repo / folder / "stray.yaml").write_text("on: push\n")
    (repo / "ftctl.yaml").write_text("stack: prod\n")
    (repo / ".gitlab-ci.yml").write_text("stages: [plan]\n")  # a hidden file is not a manifest either
    (repo / "data").mkdir()
    (repo / "data" / "t.jsonl").write_text("")
    (repo / "m.yaml").write_text("name: bot\nmodel: gpt-4o-mini\ntraining_file: file-abc\n")
    done = ftctl("validate", ".", cwd=repo)
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("1 manifest in 1 file valid")


BAD = """\
name: bot
model: gpt-5-turbo-ultra
training_file: file-abc
method: {hyperparameters: {n_epoch: 3}}
suffix: "a,b: 100%"
"""


def test_json_output_lists_every_problem(repo: Path) -> None:
    (repo / "bot.yaml").write_text(BAD)
    done = ftctl("validate", "bot.yaml", "-o", "json", cwd=repo)
    assert done.returncode == 1 and done.stderr == ""
    assert json.loads(done.stdout) == [
        {"file": "bot.yaml", "line": 4, "field": "method.hyperparameters.n_epoch",
         "message": "unknown field (did you mean n_epochs?)", "severity": "error"},
        {"file": "bot.yaml", "line": 2, "field": "model", "severity": "warning",
         "message": "'gpt-5-turbo-ultra' is not in ftctl's model catalog (as of 2025-08-01); if it is right, "
                    "silence this with FTCTL_EXTRA_MODELS=gpt-5-turbo-ultra"}]


def test_github_output_is_workflow_annotations(repo: Path) -> None:
    (repo / "bot.yaml").write_text(BAD.replace("n_epoch", "n_epochs"))
    (repo / "data.yaml").write_text("name: Bad,Name\nmodel: gpt-4o-mini\ntraining_file: file-abc\n")
    done = ftctl("validate", ".", "-o", "github", cwd=repo)
    assert done.returncode == 1
    assert done.stdout.splitlines() == [
        "::warning file=bot.yaml,line=2,title=model::'gpt-5-turbo-ultra' is not in ftctl's model catalog (as of "
        "2025-08-01); if it is right, silence this with FTCTL_EXTRA_MODELS=gpt-5-turbo-ultra",
        "::error file=bot.yaml,line=5,title=suffix::the suffix holds ':': it becomes part of the model name "
        "ft:BASE:ORG:SUFFIX:ID",
        "::error file=data.yaml,line=1,title=name::'Bad,Name' is not a valid name: use 1-63 lowercase letters, "
        "digits and '-', starting and ending with a letter or digit",
        "2 errors."]
    sub = repo / "sub"  # from a subdirectory, paths are still from the repository's root
    sub.mkdir()
    again = ftctl("validate", "..", "-o", "github", cwd=sub)
    assert again.stdout.splitlines() == done.stdout.splitlines()


def test_an_extra_model_silences_the_catalog_warning(repo: Path) -> None:
    (repo / "bot.yaml").write_text(BAD.replace("n_epoch", "n_epochs").replace(": 100%", " 100%"))
    done = run_ftctl(["validate", "bot.yaml"], repo, clean_env(FTCTL_EXTRA_MODELS="x, gpt-5-turbo-ultra"))
    assert done.returncode == 0 and done.stderr == ""


def test_log_level_works_after_the_subcommand(repo: Path) -> None:
    (repo / "m.yaml").write_text("name: bot\nmodel: gpt-4o-mini\ntraining_file: file-abc\nstate: cancelled\n")
    done = ftctl("plan", "m.yaml", "--sandbox", "--log-level", "debug", cwd=repo)
    assert done.returncode == 0, done.stderr
    http = [line for line in done.stderr.splitlines() if "[debug    ] http" in line]
    # one GET: the stack's jobs; nothing to create, so the file list is not read
    assert len(http) == 1 and "status=200" in http[0] and "fine_tuning/jobs" in http[0]
    quiet = ftctl("plan", "m.yaml", "--sandbox", cwd=repo)
    assert quiet.stderr == ""


def test_a_busy_port_says_which_and_how_to_choose_another(repo: Path) -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        done = ftctl("sandbox", "serve", "--port", str(port), "--db", str(repo / "s.db"), cwd=repo)
    assert done.returncode == 1
    assert done.stderr.strip() == (f"Error: port {port} on 127.0.0.1 is in use (another sandbox?): choose another "
                                   "with --port N, or --port 0 for any free port")


def test_binary_data_is_one_message_with_its_offset(repo: Path) -> None:
    (repo / "data").mkdir()
    (repo / "data" / "t.jsonl").write_bytes(b'{"messages": []}\n' + bytes(range(256)) * 40)
    (repo / "m.yaml").write_text("name: bot\nmodel: gpt-4o-mini\ntraining_file: data/t.jsonl\n")
    done = ftctl("validate", "m.yaml", cwd=repo)
    assert done.returncode == 1
    assert done.stderr.splitlines() == [
        "data/t.jsonl:1: messages must be a non-empty list of messages",
        "data/t.jsonl:2: the byte at offset 17 is a NUL byte: this is not a text file of JSON lines (the rest of "
        "the file is not checked)",
        "m.yaml:3: training_file: data/t.jsonl does not fit the chat format of a supervised job (see the problems "
        "listed above)",
        "3 errors."]


def test_a_fine_tuned_model_of_a_known_base_is_accepted(repo: Path) -> None:
    (repo / "m.yaml").write_text("name: bot\nmodel: ft:gpt-4o-mini-2024-07-18:acme:v1:abc123\ntraining_file: file-a\n")
    done = ftctl("validate", "m.yaml", cwd=repo)
    assert done.returncode == 0 and done.stderr == "", done.stderr


def test_an_azure_fine_tuned_model_is_refused_on_another_provider_and_accepted_on_azure(repo: Path) -> None:
    (repo / "m.yaml").write_text("name: bot\nmodel: gpt-4o-mini-2024-07-18.ft-0a1b2c3d4e5f\ntraining_file: file-a\n"
                                 "provider_options: {azure: {training_type: globalstandard}}\n")
    done = ftctl("validate", "m.yaml", "--provider", "openai", cwd=repo)
    assert done.returncode == 1
    assert done.stderr.startswith("m.yaml:2: model: 'gpt-4o-mini-2024-07-18.ft-0a1b2c3d4e5f' is Azure OpenAI's "
                                  "name of a fine-tuned model (BASE.ft-ID); on OpenAI a fine-tuned model is named "
                                  "ft:BASE:ORG:SUFFIX:ID"), done.stderr
    assert ftctl("validate", "m.yaml", "--provider", "azure", cwd=repo).returncode == 0


def test_a_file_given_that_is_not_yaml_is_an_error(repo: Path) -> None:
    (repo / "train.jsonl").write_text("{}\n")
    done = ftctl("validate", "train.jsonl", cwd=repo)
    assert done.returncode == 1
    assert done.stderr.splitlines() == ["train.jsonl: not a manifest: manifests are .yaml or .yml files", "1 error."]


def test_a_price_table_of_the_wrong_shape_is_an_error_naming_the_field(repo: Path) -> None:
    (repo / "m.yaml").write_text("name: bot\nmodel: gpt-4o-mini\ntraining_file: file-a\n")
    (repo / "prices.json").write_text('{"as_of": "2026-01-01", "training_per_million_tokens": {"gpt-4o": "3"},'
                                      ' "training_per_hour": {"o4-mini": -1}}')
    done = ftctl("validate", "m.yaml", "--prices", "prices.json", cwd=repo)
    assert done.returncode == 1
    assert done.stderr.strip() == (
        "Error: --prices prices.json is not a price table: training_per_million_tokens.gpt-4o: "
        "should be a valid number; training_per_hour.o4-mini: should be greater than or equal to 0")
    (repo / "prices.json").write_text('{"as_of": "x"}')
    empty = ftctl("validate", "m.yaml", "--prices", "prices.json", cwd=repo)
    assert empty.returncode == 1 and empty.stderr.strip() == (
        "Error: --prices prices.json is not a price table: no prices: give training_per_million_tokens (and "
        "training_per_hour for models billed by time), each a mapping of model snapshot to price")
