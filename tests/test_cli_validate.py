"""``ftctl validate`` through the real entry point, as a user runs it."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from tests.conftest import ROOT


def ftctl(*args: str, cwd: Path = ROOT) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "NO_COLOR": "1"}
    return subprocess.run([sys.executable, "-m", "reconciler", *args], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=60)


def test_shipped_manifests_and_examples_are_valid() -> None:
    done = ftctl("validate", "manifests", "examples")
    assert done.returncode == 0, done.stderr
    assert "8 manifests in 7 files valid; 4 data files with 46 examples checked." in done.stdout


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
    (repo / "data").mkdir()
    (repo / "data" / "t.jsonl").write_text("")
    (repo / "m.yaml").write_text("name: bot\nmodel: gpt-4o-mini\ntraining_file: file-abc\n")
    done = ftctl("validate", ".", cwd=repo)
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("1 manifest in 1 file valid")
