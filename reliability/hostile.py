"""Hostile input: each case refused or bounded with a clear message, in bounded time and memory, with
nothing sent and nothing lost. Most run ``ftctl validate`` (offline) and ``ftctl plan`` against a
sandbox whose request counter must not move; the child's time and peak memory are measured. A
message is clear when every output starts with the file at fault and its line (a 50 MB manifest,
refused unread, has none) and says what each case expects (every part of it: the symlink and the
``..`` are two refusals), with no internal error or traceback.

The cases of the evaluation surface run what they aim at: a 100 MB eval file is validated and
estimated (``eval --dry-run``), read line by line, accepted (exit 0) in bounded memory; hostile
python graders run under ``ftctl grade`` (offline) — one that never returns and ignores its alarm
(bounded by the parent's kill at the time limit plus its grace: about 130 s, the guide's 2 minutes,
which no setting lowers), one that forks 200 sleepers (killed with its session; none may be left),
one that writes into the project and beside it (refused). Nothing is lost: every file of the project
and of the folder beside it is the same after the case as before, and nothing new is beside it.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from reconciler.evals.python_grader import GRACE, TIME_LIMIT
from reliability.sandbox import SandboxProcess

GOOD = {"messages": [{"role": "user", "content": "q"}, {"role": "assistant", "content": "a"}]}
SYSTEM = {"messages": [{"role": "system", "content": "s"}, *GOOD["messages"]]}
MANIFEST = "name: {name}\nmodel: gpt-4o-mini\ntraining_file: {data}\n"
PNG = b"\x89PNG\r\n\x1a\n"  # a binary file's first bytes: 0x89 is not UTF-8


def _alias_bomb(root: Path) -> None:
    lines = ['a0: &a0 ["x","x","x","x","x","x","x","x","x"]']
    lines += [f"a{i}: &a{i} [" + ",".join([f"*a{i - 1}"] * 9) + "]" for i in range(1, 10)]
    (root / "m.yaml").write_text("\n".join(lines) + "\nname: bomb\n")


def _deep(root: Path) -> None:
    (root / "m.yaml").write_text(MANIFEST.format(name="deep", data="file-x") + "metadata: " + "[" * 10_000 +
                                 "]" * 10_000 + "\n")


def _huge_manifest(root: Path) -> None:
    with (root / "m.yaml").open("w") as f:  # written in pieces: this process stays small (its children fork it)
        f.write(MANIFEST.format(name="huge", data="file-x") + "# ")
        f.writelines("x" * 1_000_000 for _ in range(50))
        f.write("\n")


def _binary_manifest(root: Path) -> None:
    (root / "m.yaml").write_bytes(PNG + os.urandom(1_000_000))  # an image, 1 MB of noise


def _latin1_manifest(root: Path) -> None:
    (root / "m.yaml").write_bytes("name: caf\xe9\nmodel: gpt-4o-mini\n".encode("latin-1"))


def _long_line(root: Path) -> None:
    with (root / "d.jsonl").open("w") as f:
        f.write('{"messages": [{"role": "user", "content": "')
        f.writelines("x" * 1_000_000 for _ in range(100))
        f.write('"}]}\n')
        f.writelines(json.dumps(GOOD) + "\n" for _ in range(20))
    (root / "m.yaml").write_text(MANIFEST.format(name="long", data="d.jsonl"))


def _million_wrong(root: Path) -> None:
    """Four faults in turn, one of them naming a different role on every line it is on: the output
    must stay bounded however many kinds of message the lines make."""
    kinds = ('{{"messages": [{{"role": "robot{i}", "content": "x"}}]}}', "not json {i}", '{{"prompt": "{i}"}}',
             '{{"messages": [{{"role": "user", "content": {i}}}]}}')
    with (root / "d.jsonl").open("w") as f:
        f.writelines(kinds[i % 4].format(i=i) + "\n" for i in range(1_000_000))
    (root / "m.yaml").write_text(MANIFEST.format(name="wrong", data="d.jsonl"))


def _binary_data(root: Path) -> None:
    (root / "d.jsonl").write_bytes(PNG + os.urandom(1_000_000))
    (root / "m.yaml").write_text(MANIFEST.format(name="noise", data="d.jsonl"))


def _latin1_data(root: Path) -> None:
    bad = {"messages": [{"role": "user", "content": "caf\xe9"}, {"role": "assistant", "content": "a"}]}
    (root / "d.jsonl").write_bytes((json.dumps(GOOD) + "\n").encode() * 20 +
                                   (json.dumps(bad, ensure_ascii=False) + "\n").encode("latin-1"))
    (root / "m.yaml").write_text(MANIFEST.format(name="latin", data="d.jsonl"))


def _escapes(root: Path) -> None:
    (root / "outside.jsonl").symlink_to("/etc/passwd")
    (root / "m.yaml").write_text(MANIFEST.format(name="link", data="outside.jsonl") + "---\n" +
                                 MANIFEST.format(name="dots", data="../../../etc/passwd"))


def _eval_manifest(root: Path, name: str, eval_file: str, grader: str) -> None:
    (root / "data").mkdir(exist_ok=True)
    (root / "data" / "train.jsonl").write_text((json.dumps(SYSTEM) + "\n") * 20)
    (root / "m.yaml").write_text(f"name: {name}\nmodel: gpt-4o-mini\ntraining_file: data/train.jsonl\neval:\n"
                                 f"  file: {eval_file}\n  baseline: none\n  grader:\n{grader}")


def _python_grader(root: Path, name: str, code: str, items: list[dict[str, str]]) -> None:
    """``m.yaml`` whose eval grader is ``code``, and ``samples.jsonl``: one answer per item."""
    source = "".join(f"        {line}\n" for line in code.splitlines())
    _eval_manifest(root, name, "data/train.jsonl", f"    type: python\n    name: {name}\n    source: |\n{source}")
    (root / "samples.jsonl").write_text("".join(json.dumps({"item": item, "output_text": "a"}) + "\n"
                                                for item in items))


def _big_eval(root: Path) -> None:
    grader = ('    {type: string_check, name: exact, input: "{{sample.output_text}}", reference: "{{item.reference}}",'
              ' operation: eq}\n')
    _eval_manifest(root, "big-eval", "data/eval.jsonl", grader)
    (root / "ftctl.yaml").write_text("paths: [m.yaml]\n")  # what `ftctl eval` reads
    with (root / "data" / "eval.jsonl").open("w") as f:
        written = i = 0
        while written < 100_000_000:
            prompt = f"What is the code of case {i}? " + "pad " * 10
            line = json.dumps({"messages": [{"role": "user", "content": prompt}], "reference": f"code {i}"}) + "\n"
            f.write(line)
            written, i = written + len(line), i + 1


NEVER_RETURNS = """import signal
def grade(sample, item):
    signal.signal(signal.SIGALRM, signal.SIG_IGN)  # its alarm ignored: only the parent can stop it
    while True:
        pass
"""
FORKS = """import os, time
def grade(sample, item):
    os.mkdir(item["folder"])
    for n in range(200):  # bounded: 200 sleepers at most, whatever the limits
        if os.fork() == 0:
            os.chdir(item["folder"])
            time.sleep(300)
            os._exit(0)
    time.sleep(300)
    return 1.0
"""
WRITES = """def grade(sample, item):
    with open(item["target"], "w") as f:
        f.write("overwritten by a grader")
    return 1.0
"""
FORK_FOLDER = f"ftctl-hostile-forks-{uuid.uuid4().hex[:12]}"
"""The folder the forking grader's sleepers wait in: any process left is found by its working directory."""


def _never_returns(root: Path) -> None:
    _python_grader(root, "never-returns", NEVER_RETURNS, [{"n": "1"}])


def _forks(root: Path) -> None:
    _python_grader(root, "forks", FORKS, [{"folder": FORK_FOLDER}])


def _outside(root: Path) -> Path:
    return root.parent / f"{root.name}-beside"


def _writes_outside(root: Path) -> None:
    (root / ".ftctl" / "cache" / "grades").mkdir(parents=True)
    (root / ".ftctl" / "cache" / "grades" / "kept.json").write_text('{"value": 1.0}\n')
    _outside(root).mkdir()
    (_outside(root) / ".profile").write_text("# a file of the user's, outside the project\n")
    targets = [root / "m.yaml", root / "data" / "train.jsonl", root / ".ftctl" / "cache" / "grades" / "kept.json",
               _outside(root) / ".profile", _outside(root) / "new.txt"]
    _python_grader(root, "writes-outside", WRITES, [{"target": str(t)} for t in targets])


def _cycle(root: Path) -> None:
    (root / "data").mkdir()
    (root / "data" / "train.jsonl").write_text((json.dumps(GOOD) + "\n") * 20)
    for i in range(1000):  # m0 from m999, m1 from m0, …
        (root / f"m{i}.yaml").write_text(f"name: m{i}\nmodel: {{from: m{(i - 1) % 1000}}}\n"
                                         "training_file: data/train.jsonl\n")


VALIDATE_PLAN = (("validate", "m.yaml"), ("plan", "m.yaml"))


@dataclass(frozen=True)
class Case:
    make: Callable[[Path], None]
    first: str | None
    """How each output's first line starts (the file, and the line where it has lines); None: no file is
    at fault (an accepted file, a grader's report)."""
    says: tuple[str, ...]
    """What each output must say."""
    commands: tuple[tuple[str, ...], ...] = VALIDATE_PLAN
    each: tuple[tuple[str, ...], ...] = ()
    """What each command's output must say besides, command by command."""
    exit: int = 1
    """The exit code each command must end with."""
    seconds: float = 30
    """The bound on each command's time."""


CASES: dict[str, Case] = {
    "YAML alias bomb": Case(_alias_bomb, "m.yaml:1: ", ("(YAML alias bomb?)",)),
    "nested 10,000 deep": Case(_deep, "m.yaml:1: ", ("the YAML nests too deeply",)),
    "50 MB manifest": Case(_huge_manifest, "m.yaml: ", ("50000055 bytes is too large for a manifest",)),  # not read
    "binary manifest": Case(_binary_manifest, "m.yaml:1: ", ("not UTF-8 text: the byte at offset 0 (0x89)",)),
    "invalid UTF-8 manifest": Case(_latin1_manifest, "m.yaml:1: ", ("not UTF-8 text: the byte at offset 9 (0xe9)",)),
    "binary data file": Case(_binary_data, "d.jsonl:1: ", ("the byte at offset 0 (0x89) is not UTF-8",)),
    "invalid UTF-8 data file": Case(_latin1_data, "d.jsonl:21: ", ("(0xe9) is not UTF-8",)),
    "one 100 MB JSONL line": Case(_long_line, "d.jsonl:1: ", ("100,000,047 bytes on one line",)),
    "1,000,000 wrong lines": Case(_million_wrong, "d.jsonl:1: ", (
        "d.jsonl:2: lines 2, 6, 10 and 249,997 more: not valid JSON", "more errors of other kinds in this file")),
    "symlink and .. leaving the project": Case(_escapes, "m.yaml:3: ", (
        "m.yaml:3: training_file: path 'outside.jsonl' leaves the project root",
        "m.yaml:7: training_file: path '../../../etc/passwd' leaves the project root")),
    "100 MB eval file (accepted, streamed)": Case(
        _big_eval, None, (), (("validate", "m.yaml"), ("eval", "--dry-run")),
        (("2 data files with 672,653 examples checked",), ("672,633 items × 1 model", "Nothing was sent")), exit=0),
    "python grader that never returns": Case(_never_returns, None, (
        f"error: took longer than {TIME_LIMIT:g} s", "1 error (counted as 0)"),
        (("grade", "never-returns", "m.yaml", "--samples", "samples.jsonl"),), exit=0,
        seconds=TIME_LIMIT + GRACE + 15),
    "python grader forking 200 sleepers": Case(_forks, None, ("error: started more than 32 processes",),
                                               (("grade", "forks", "m.yaml", "--samples", "samples.jsonl"),), exit=0),
    "python grader writing outside its folder": Case(_writes_outside, None, (
        "line 1  0.0000  \"a\"  error: PermissionError: a grader may write only in its working directory, not '",
        "m.yaml' (open)", "train.jsonl' (open)", "kept.json' (open)", ".profile' (open)", "new.txt' (open)",
        "5 errors (counted as 0)"), (("grade", "writes-outside", "m.yaml", "--samples", "samples.jsonl"),), exit=0),
    "from: cycle of 1,000 manifests": Case(_cycle, "m0.yaml:2: ", (
        "in a cycle: m0 → m999 → m998 → m997 → … 992 more … → m4 → m3 → m2 → m1 → m0 (1,000 manifests)",),
        (("validate", "."), ("plan", "."))),
}
NEVER = ("internal error", "Traceback")


LAUNCHER = """
import json, os, sys
out = os.open(sys.argv[1], os.O_WRONLY | os.O_CREAT | os.O_TRUNC)
pid = os.fork()
if pid == 0:
    os.dup2(out, 1)
    os.dup2(out, 2)
    os.execv(sys.argv[2], sys.argv[2:])
_, status, usage = os.wait4(pid, 0)
print(json.dumps({"exit": os.waitstatus_to_exitcode(status), "peak_kb": usage.ru_maxrss}))
"""
"""Runs a command and reports its own peak memory: Linux counts a child's peak from the memory of the
process that forked it, so the fork happens in this small launcher, not in a large parent."""


def _measured(args: list[str], cwd: Path, env: dict[str, str]) -> tuple[int, str, float, float]:
    """Exit code, output, seconds and the child's own peak memory (MB)."""
    started = time.monotonic()
    with tempfile.NamedTemporaryFile("r") as out:
        report = subprocess.run([sys.executable, "-c", LAUNCHER, out.name, *args], cwd=cwd, env=env,
                                capture_output=True, text=True, check=True, timeout=300)
        measured = json.loads(report.stdout)
        return measured["exit"], out.read(), time.monotonic() - started, measured["peak_kb"] / 1024


def _files(root: Path) -> dict[Path, bytes]:
    """Every file of the project and of the folder beside it, with its bytes' digest."""
    import hashlib

    found: dict[Path, bytes] = {}
    for folder in (root, _outside(root)):
        for path in folder.rglob("*") if folder.is_dir() else ():
            if path.is_file() and not path.is_symlink():
                with path.open("rb") as f:
                    found[path] = hashlib.file_digest(f, "sha256").digest()
    return found


def _lost(root: Path, before: dict[Path, bytes]) -> list[str]:
    """What a case changed that it had no right to: a file of the project or beside it changed or gone,
    a new file beside it, a process of the forking grader left."""
    after = _files(root)
    lost = [f"{p.relative_to(root.parent)} {'changed' if p in after else 'gone'}" for p, digest in before.items()
            if after.get(p) != digest]
    lost += [f"{p.relative_to(root.parent)} made" for p in after if p not in before and _outside(root) in p.parents]
    left = _left_in(FORK_FOLDER)
    return lost + ([f"{left} processes of the forking grader left"] if left else [])


def _left_in(folder: str) -> int:
    """Processes whose working directory is a folder named ``folder``."""
    count = 0
    for entry in Path("/proc").iterdir() if Path("/proc").is_dir() else ():
        try:
            count += entry.name.isdigit() and os.readlink(entry / "cwd").split("/")[-1].split()[0] == folder
        except (OSError, IndexError):
            continue
    return count


def run(names: list[str] | None = None) -> dict[str, Any]:
    results = []
    with (tempfile.TemporaryDirectory(prefix="ftctl-hostile-") as tmp,
          SandboxProcess(Path(tmp) / "sandbox.db") as server):
        env = server.env()
        for name, case in CASES.items():
            if names is not None and name not in names:
                continue
            root = Path(tmp) / name.replace(" ", "-").replace("/", "-").replace(":", "")
            (root / ".git").mkdir(parents=True)
            case.make(root)
            files = _files(root)
            before = server.admin("GET", "stats")["total"]
            runs = [(" ".join(args), *_measured([sys.executable, "-m", "reconciler", *args], root, env))
                    for args in case.commands]
            sent = server.admin("GET", "stats")["total"] - before
            outputs = [(command, out) for command, _, out, _, _ in runs]
            lines = outputs[0][1].strip().splitlines()
            errors = [line.strip() for line in lines if "error: " in line]
            shown = errors[0] if case.first is None and errors else lines[0] if lines else ""  # a grader's: its error
            unclear = [f"{command}: {'lacks' if want else 'says'} {text!r}"
                       for command, said in outputs
                       for want, texts in ((True, case.says), (False, NEVER)) for text in texts
                       if (text in said) is not want]
            unclear += [f"{command}: lacks {text!r}" for (command, said), texts in zip(outputs, case.each, strict=False)
                        for text in texts if text not in said]
            unclear += [f"{command}: starts {said[:40]!r}, not {case.first!r}"
                        for command, said in outputs if case.first is not None and not said.startswith(case.first)]
            exits = [code for _, code, _, _, _ in runs]
            result = {"case": name, "commands": [command for command, _ in outputs], "exit": exits[0],
                      "plan_exit": exits[-1], "exits": exits, "expected_exit": case.exit,
                      "seconds": round(max(r[3] for r in runs), 2), "max_seconds": case.seconds,
                      "peak_mb": round(max(r[4] for r in runs)), "requests_sent": sent,
                      "output_lines": max(len(out.strip().splitlines()) for _, out in outputs),
                      "message": shown[:200], "unclear": unclear, "lost": _lost(root, files)}
            results.append(result)
            print(f"  {name}: exit {'/'.join(map(str, exits))}, {result['seconds']} s, {result['peak_mb']} MB, "
                  f"{sent} requests, {result['output_lines']} lines: {result['message']}"
                  f"{' UNCLEAR: ' + '; '.join(unclear) if unclear else ''}"
                  f"{' LOST: ' + '; '.join(result['lost']) if result['lost'] else ''}", flush=True)
    return {"cases": results}
