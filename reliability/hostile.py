"""Hostile input: each case refused with a clear message, in bounded time and memory, with nothing
sent. Each runs ``ftctl validate`` (offline) and ``ftctl plan`` against a sandbox whose request
counter must not move; the child's time and peak memory are measured. A message is clear when both
commands start their output with the file at fault and its line (a 50 MB manifest, refused unread,
has none) and say what each case expects (every part of it: the symlink and the ``..`` are two
refusals), with no internal error or traceback.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from reliability.sandbox import SandboxProcess

GOOD = {"messages": [{"role": "user", "content": "q"}, {"role": "assistant", "content": "a"}]}
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


CASES: dict[str, tuple[Callable[[Path], None], str, tuple[str, ...]]] = {
    # what makes it; how each output's first line starts (the file, and the line where it has lines);
    # what each output must say
    "YAML alias bomb": (_alias_bomb, "m.yaml:1: ", ("(YAML alias bomb?)",)),
    "nested 10,000 deep": (_deep, "m.yaml:1: ", ("the YAML nests too deeply",)),
    "50 MB manifest": (_huge_manifest, "m.yaml: ", ("50000055 bytes is too large for a manifest",)),  # not read
    "binary manifest": (_binary_manifest, "m.yaml:1: ", ("not UTF-8 text: the byte at offset 0 (0x89)",)),
    "invalid UTF-8 manifest": (_latin1_manifest, "m.yaml:1: ", ("not UTF-8 text: the byte at offset 9 (0xe9)",)),
    "binary data file": (_binary_data, "d.jsonl:1: ", ("the byte at offset 0 (0x89) is not UTF-8",)),
    "invalid UTF-8 data file": (_latin1_data, "d.jsonl:21: ", ("(0xe9) is not UTF-8",)),
    "one 100 MB JSONL line": (_long_line, "d.jsonl:1: ", ("100,000,047 bytes on one line",)),
    "1,000,000 wrong lines": (_million_wrong, "d.jsonl:1: ", (
        "d.jsonl:2: lines 2, 6, 10 and 249,997 more: not valid JSON", "more errors of other kinds in this file")),
    "symlink and .. leaving the project": (_escapes, "m.yaml:3: ", (
        "m.yaml:3: training_file: path 'outside.jsonl' leaves the project root",
        "m.yaml:7: training_file: path '../../../etc/passwd' leaves the project root")),
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


def run(names: list[str] | None = None) -> dict[str, Any]:
    results = []
    with (tempfile.TemporaryDirectory(prefix="ftctl-hostile-") as tmp,
          SandboxProcess(Path(tmp) / "sandbox.db") as server):
        env = server.env()
        for name, (make, first, expected) in CASES.items():
            if names is not None and name not in names:
                continue
            root = Path(tmp) / name.replace(" ", "-").replace("/", "-")
            (root / ".git").mkdir(parents=True)
            make(root)
            before = server.admin("GET", "stats")["total"]
            code, out, seconds, peak = _measured([sys.executable, "-m", "reconciler", "validate", "m.yaml"],
                                                 root, env)
            plan_code, plan_out, plan_seconds, plan_peak = _measured(
                [sys.executable, "-m", "reconciler", "plan", "m.yaml"], root, env)
            sent = server.admin("GET", "stats")["total"] - before
            lines = out.strip().splitlines()
            unclear = [f"{command}: {'lacks' if want else 'says'} {text!r}"
                       for command, said in (("validate", out), ("plan", plan_out))
                       for want, texts in ((True, expected), (False, NEVER)) for text in texts
                       if (text in said) is not want]
            unclear += [f"{command}: starts {said[:40]!r}, not {first!r}"
                        for command, said in (("validate", out), ("plan", plan_out)) if not said.startswith(first)]
            result = {"case": name, "exit": code, "plan_exit": plan_code, "seconds": round(max(seconds,
                      plan_seconds), 2), "peak_mb": round(max(peak, plan_peak)), "requests_sent": sent,
                      "output_lines": max(len(lines), len(plan_out.strip().splitlines())),
                      "message": lines[0][:200] if lines else "", "unclear": unclear}
            results.append(result)
            print(f"  {name}: exit {code}/{plan_code}, {result['seconds']} s, {result['peak_mb']} MB, "
                  f"{sent} requests, {result['output_lines']} lines: {result['message']}"
                  f"{' UNCLEAR: ' + '; '.join(unclear) if unclear else ''}", flush=True)
    return {"cases": results}
