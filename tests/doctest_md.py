"""Run the command samples of a Markdown page and compare their output, like a user would see it.

A page is run top to bottom in a fresh project (a copy of the repository's ``manifests/`` and
``examples/`` beside an empty ``.git``), with the virtualenv's ``ftctl`` first on ``PATH``, no key
and no colour:

* a ``console`` block holds ``$ command`` lines, each followed by the output it must print (stdout
  and stderr together); a line ``...`` stands for any number of lines. ``$ export NAME=value`` sets a
  variable for the rest of the page; ``$ cd DIR`` changes directory for the rest of the page.
* a block whose info string names a file (```` ```yaml file=ftctl.yaml ````) is written to that path
  before the next command runs: what a page shows as a file is the file the samples run against.

What changes from run to run is normalised on both sides before comparing: job, file, event and
checkpoint IDs, the sandbox's port, times, ages and ETAs, and the width of table columns.
"""

from __future__ import annotations

import contextlib
import os
import re
import shlex
import shutil
import signal
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

from reliability.sandbox import clean_env

FENCE = re.compile(r"^```(\S*)(?:[ \t]+file=(\S+))?[ \t]*\n(.*?)^```[ \t]*$", re.M | re.S)
VOLATILE = [
    (re.compile(r"\bftjob-[A-Za-z0-9]{6,}"), "ftjob-<id>"),
    (re.compile(r"\bfile-[A-Za-z0-9]{6,}"), "file-<id>"),
    (re.compile(r"\b(ftevent|ftckpt)[-_][A-Za-z0-9]{6,}"), r"\1-<id>"),
    (re.compile(r"(ft:[\w.:-]+:sandbox:[\w.-]*:)[A-Za-z0-9]{8}"), r"\1<id>"),
    (re.compile(r"127\.0\.0\.1:\d+"), "127.0.0.1:<port>"),
    (re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ"), "<time>"),
    (re.compile(r"\b(ETA|AGE|age) \d+[smhd]\b"), r"\1 <t>"),
    (re.compile(r"((?:loss|accuracy)[= ])\d+\.\d+"), r"\1<n>"),  # metrics vary with the job's ID
    (re.compile(r"(?<=\s)\d+[smhd](?=\s|$)"), "<t>"),
]


@dataclass
class Sample:
    command: str
    expected: list[str]
    line: int


@dataclass
class Step:
    samples: list[Sample] = field(default_factory=list)
    file: tuple[str, str] | None = None


def steps(text: str) -> list[Step]:
    """The page's console samples and files, in order."""
    out: list[Step] = []
    for m in FENCE.finditer(text):
        info, path, body = m.group(1), m.group(2), m.group(3)
        first = text.count("\n", 0, m.start(3)) + 1
        if path:
            out.append(Step(file=(path, body)))
        elif info == "console":
            step = Step()
            for n, line in enumerate(body.splitlines()):
                if line.startswith("$ "):
                    step.samples.append(Sample(line[2:], [], first + n))
                elif step.samples:
                    step.samples[-1].expected.append(line)
            out.append(step)
    return out


def normalise(lines: list[str]) -> list[str]:
    out = []
    for line in lines:
        for pattern, replacement in VOLATILE:
            line = pattern.sub(replacement, line)
        out.append(re.sub(r" {2,}", "  ", line.rstrip()))  # columns move with the width of what changed
    while out and not out[-1]:
        out.pop()
    return out


def matches(expected: list[str], actual: list[str]) -> bool:
    """``expected`` (``...`` lines match any run of lines) against ``actual``."""
    if not expected:
        return not actual
    if expected[0] == "...":
        return any(matches(expected[1:], actual[i:]) for i in range(len(actual) + 1))
    return bool(actual) and expected[0] == actual[0] and matches(expected[1:], actual[1:])


def project(root: Path, repo: Path) -> Path:
    for name in ("manifests", "examples"):
        shutil.copytree(repo / name, root / name)
    (root / ".git").mkdir()
    return root


def run_page(page: Path, root: Path, record: dict[int, list[str]] | None = None) -> list[str]:
    """Run every sample of ``page`` in ``root``; the mismatches, each with the page's line. With
    ``record``, the raw output of each sample is kept there by its line (to write a page's samples)."""
    env = clean_env(PATH=f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}", COLUMNS="200")
    problems: list[str] = []
    groups: list[int] = []
    try:
        return _run(page, root, env, problems, groups, record)
    finally:
        for group in groups:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(group, signal.SIGTERM)


def _run(page: Path, cwd: Path, env: dict[str, str], problems: list[str], groups: list[int],
         record: dict[int, list[str]] | None) -> list[str]:
    for step in steps(page.read_text(encoding="utf-8")):
        if step.file is not None:
            (cwd / step.file[0]).parent.mkdir(parents=True, exist_ok=True)
            (cwd / step.file[0]).write_text(step.file[1], encoding="utf-8")
        for sample in step.samples:
            words = shlex.split(sample.command, comments=True)
            if words and words[0] == "export":
                name, _, value = words[1].partition("=")
                env[name] = value
                continue
            if words and words[0] == "cd":
                cwd = (cwd / words[1]).resolve()
                continue
            proc = subprocess.Popen(["bash", "-c", sample.command], cwd=cwd, env=env, stdout=subprocess.PIPE,
                                    stderr=subprocess.STDOUT, text=True, start_new_session=True)
            groups.append(proc.pid)  # what it leaves running (a server in the background) is stopped at the end
            try:
                output = proc.communicate(timeout=120)[0]
            except subprocess.TimeoutExpired:
                proc.kill()
                output = proc.communicate()[0] + "\n(timed out after 120 s)"
            actual = normalise(output.splitlines())
            if record is not None:
                record[sample.line] = [line.rstrip() for line in output.splitlines()]
            if not matches(normalise(sample.expected), actual):
                problems.append(f"{page.name}:{sample.line}: $ {sample.command}\n--- expected\n"
                                + "\n".join(sample.expected) + "\n--- got\n" + "\n".join(actual))
    return problems


def rewrite(page: Path, root: Path) -> None:
    """Write each sample's actual output into ``page`` (but where the page uses ``...``): for a
    person writing a page, who then reads every output before committing it."""
    recorded: dict[int, list[str]] = {}
    run_page(page, root, recorded)
    text = page.read_text(encoding="utf-8")
    samples = {sample.line: sample for step in steps(text) for sample in step.samples}
    out: list[str] = []
    skipping = False  # over a sample's old output, up to the next command or the end of the block
    for n, line in enumerate(text.splitlines(), 1):
        if n in recorded:
            expected = samples[n].expected
            out += [line, *(expected if "..." in expected else recorded[n])]
            skipping = True
            continue
        if skipping and (line.startswith("$ ") or line.startswith("```")):
            skipping = False
        if not skipping:
            out.append(line)
    page.write_text("\n".join(out) + "\n", encoding="utf-8")


if __name__ == "__main__":  # python -m tests.doctest_md PAGE…: write the pages' outputs
    import tempfile

    repo = Path(__file__).resolve().parent.parent
    for name in sys.argv[1:]:
        with tempfile.TemporaryDirectory() as tmp:
            rewrite(Path(name).resolve(), project(Path(tmp), repo))
