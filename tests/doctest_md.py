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
checkpoint IDs, the sandbox's port, times, ages and ETAs, the statuses of a job in progress
(validating_files, queued, running: how far it got depends on the load) and the width of table columns. IDs may
differ from the run's, but not from each other: across a page, one ID of the page stands for one ID
of the run and the other way round (``Ids``), so that a job created in one sample is the job a
later sample shows, under the same ID and model name.
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
    (re.compile(r"\bft-job-[0-9a-f]{8}(?:-[0-9a-f]{4}){3}-[0-9a-f]{12}\b"), "ft-job-<id>"),  # OPEA's service
    (re.compile(r"\bfile-[A-Za-z0-9]{6,}"), "file-<id>"),
    (re.compile(r"\b(ftevent|ftckpt)[-_][A-Za-z0-9]{6,}"), r"\1-<id>"),
    (re.compile(r"(ft:[\w.:-]+:sandbox:[\w.-]*:)[A-Za-z0-9]{8}"), r"\1<id>"),
    (re.compile(r"127\.0\.0\.1:\d+"), "127.0.0.1:<port>"),
    (re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ"), "<time>"),
    (re.compile(r"\b(ETA|AGE|age) \d+[smhd]\b"), r"\1 <t>"),
    (re.compile(r"((?:loss|accuracy)[= ])\d+\.\d+"), r"\1<n>"),  # metrics vary with the job's ID
    (re.compile(r"(?<=\s)\d+[smhd](?=\s|$)"), "<t>"),
    # how far a job in progress has got depends on the machine's load, not on ftctl: a page that shows
    # one queued may find it running on a busy runner (terminal and paused statuses stay exact)
    (re.compile(r"\b(?:validating_files|queued|running)\b"), "<in progress>"),
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


def align(expected: list[str], actual: list[str], i: int = 0, j: int = 0) -> list[tuple[int, int]] | None:
    """The lines of ``expected`` (``...`` lines match any run of lines) paired with the lines of
    ``actual`` they match, by index; None when they do not match."""
    if i == len(expected):
        return [] if j == len(actual) else None
    if expected[i] == "...":
        for k in range(j, len(actual) + 1):
            rest = align(expected, actual, i + 1, k)
            if rest is not None:
                return rest
        return None
    if j < len(actual) and expected[i] == actual[j]:
        rest = align(expected, actual, i + 1, j + 1)
        return None if rest is None else [(i, j), *rest]
    return None


def matches(expected: list[str], actual: list[str]) -> bool:
    """``expected`` (``...`` lines match any run of lines) against ``actual``."""
    return align(expected, actual) is not None


IDENTIFIERS = re.compile(r"\b(?:ftjob|file|ftevent|ftckpt)[-_][A-Za-z0-9]{6,}|(?<=:sandbox:)[\w.-]*:[A-Za-z0-9]{8}\b"
                         r"|\bft-job-[0-9a-f]{8}(?:-[0-9a-f]{4}){3}-[0-9a-f]{12}\b")
"""What names a job, file, event or checkpoint, and a fine-tuned model's (suffix and) ID."""


class Ids:
    """One page's IDs against the run's: the same thing keeps one ID across a page's samples."""

    def __init__(self) -> None:
        self.run_of: dict[str, str] = {}
        self.page_of: dict[str, str] = {}

    def check(self, page: str, sample: Sample, expected: list[str], actual: list[str],
              pairs: list[tuple[int, int]]) -> list[str]:
        problems = []
        for i, j in pairs:
            for shown, got in zip(IDENTIFIERS.findall(expected[i]), IDENTIFIERS.findall(actual[j]), strict=False):
                before, earlier = self.run_of.setdefault(shown, got), self.page_of.setdefault(got, shown)
                where = f"{page}:{sample.line + 1 + i}: $ {sample.command}\n"
                if earlier != shown:
                    problems.append(f"{where}shows {shown} where an earlier sample showed {earlier}: the same "
                                    f"thing in the run ({got}), so the same ID on the page")
                elif before != got:
                    problems.append(f"{where}shows {shown} for {got}, where an earlier sample showed it for "
                                    f"{before}: two things in the run, so two IDs on the page")
        return problems


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
    ids = Ids()
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
            pairs = align(normalise(sample.expected), actual)
            if pairs is None:
                problems.append(f"{page.name}:{sample.line}: $ {sample.command}\n--- expected\n"
                                + "\n".join(sample.expected) + "\n--- got\n" + "\n".join(actual))
            else:
                problems += ids.check(page.name, sample, sample.expected, output.splitlines(), pairs)
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
