"""Validation + hashing throughput and peak memory on generated chat JSONL files.

For each size (default 10 MB, 100 MB and 1 GB) a chat-format file is generated once under bench/out/,
then two ways of checking it are run, each in a fresh child process so that its peak RSS is its
own:

* ``streaming``: ftctl's ``scan_file`` — one read, the format check here and sha256 on a thread;
* ``baseline``: load everything, then check — read the whole file, parse every line into a list,
  then run the same per-example checks and hash the bytes.

Beside them, the cost of reading and hashing alone: ``hashlib.file_digest`` of the same file in a
child Python process (the real floor for ftctl, which hashes with the same hashlib: on this kind of
machine it is several times faster than coreutils' ``sha256sum``, which uses no SHA extensions), and
``sha256sum`` itself for reference. Each figure is
the fastest of 3 runs (the load-everything baseline runs once above 100 MB: it takes gigabytes), as
for the other benchmarks: a 10 MB file is checked in a twentieth of a second, where one hiccup of
the machine would halve its figure.

Goals (issues 12, 25): streaming ≥ 200 MB/s, within 2.5× of ``hashlib.file_digest``'s time, and peak
memory under 150 MB at 1 GB.
Usage: python -m bench datasets [--sizes 10,100,1000] [--out bench/out]
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from bench import results

GOAL_MBPS = 200.0
GOAL_RATIO = 2.5
"""The most streaming may take, in multiples of ``hashlib.file_digest``'s time on the same file."""
GOAL_PEAK_MB = 150.0

CHILD = r"""
import hashlib, json, resource, sys, time
from pathlib import Path
import orjson
from reconciler.datasets.formats import _check_example, _clean_chat
from reconciler.datasets.report import Report
from reconciler.datasets.scan import scan_file
mode, path = sys.argv[1], Path(sys.argv[2])
start = time.perf_counter()  # after the imports: start-up is the startup benchmark's
if mode == "hashlib":
    with path.open("rb") as f:
        digest = hashlib.file_digest(f, "sha256").hexdigest()
    examples = errors = 0
elif mode == "streaming":
    scan = scan_file(path, "chat")
    examples, errors, digest = scan.report.examples, scan.report.error_count, scan.sha256
else:
    data = path.read_bytes()
    digest = hashlib.sha256(data).hexdigest()
    rows = [orjson.loads(line) for line in data.splitlines() if line.strip()]
    report = Report("chat")
    examples = sum(1 for i, row in enumerate(rows, 1)  # as check_lines does: the quick path, else the whole check
                   if _clean_chat(row) is not None or _check_example(row, "chat", report, i) is not None)
    errors = report.error_count
seconds = time.perf_counter() - start
try:  # this process's own peak: ru_maxrss would keep the parent's, inherited through fork and exec
    peak_kb = next(int(l.split()[1]) for l in open("/proc/self/status") if l.startswith("VmHWM:"))
except (OSError, StopIteration):
    peak_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
print(json.dumps({"seconds": seconds, "peak_mb": peak_kb / 1024, "examples": examples, "errors": errors,
                  "sha256": digest}))
"""


def generate(path: Path, megabytes: int) -> None:
    """A chat JSONL file of about ``megabytes`` MB, written once and reused."""
    target = megabytes * 1_000_000
    if path.exists() and path.stat().st_size >= target:
        return
    words = ["account", "billing", "password", "reset", "settings", "export", "invoice", "team", "member",
             "subscription", "language", "project", "file", "restore", "slack", "limit", "security", "refund"]
    lines = []
    for i in range(997):
        user = " ".join(words[(i * 7 + k) % len(words)] for k in range(20 + i % 30))
        answer = " ".join(words[(i * 11 + k) % len(words)] for k in range(40 + i % 60))
        lines.append(json.dumps({"messages": [
            {"role": "system", "content": "You are Acme's concise support assistant."},
            {"role": "user", "content": f"Ticket {i}: {user}?"},
            {"role": "assistant", "content": answer, "weight": 1}]}).encode() + b"\n")
    block = b"".join(lines)
    path.parent.mkdir(parents=True, exist_ok=True)
    written = 0
    with path.open("wb") as f:
        while written < target:
            f.write(block)
            written += len(block)


def measure(mode: str, path: Path, repeat: int) -> dict[str, float]:
    """The fastest of ``repeat`` runs, each in a fresh child process; the peak memory is the
    highest of them."""
    runs = []
    for _ in range(repeat):
        done = subprocess.run([sys.executable, "-c", CHILD, mode, str(path)], capture_output=True, text=True,
                              check=True)
        runs.append(json.loads(done.stdout))
    result: dict[str, float] = min(runs, key=lambda r: r["seconds"])
    result["peak_mb"] = max(r["peak_mb"] for r in runs)
    result["mb_per_s"] = path.stat().st_size / 1_000_000 / result["seconds"]
    return result


def sha256sum(path: Path, repeat: int) -> float:
    """Seconds of the fastest of ``repeat`` runs of ``sha256sum`` on ``path``."""
    times = []
    for _ in range(repeat):
        began = time.perf_counter()
        subprocess.run(["sha256sum", str(path)], capture_output=True, check=True)
        times.append(time.perf_counter() - began)
    return min(times)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench datasets", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", default="10,100,1000", help="file sizes in MB, comma-separated")
    parser.add_argument("--out", default=str(Path(__file__).parent / "out"))
    parser.add_argument("--repeat", type=int, default=3, help="runs of each, the fastest kept (the load-everything "
                        "baseline runs once above 100 MB)")
    parser.add_argument("--skip-baseline-over", type=int, default=2000,
                        help="skip the load-everything baseline above this size (MB)")
    args = parser.parse_args(argv)
    out = Path(args.out)
    rows: list[dict[str, Any]] = []
    for size in (int(s) for s in args.sizes.split(",")):
        path = out / f"chat-{size}MB.jsonl"
        began = time.perf_counter()
        generate(path, size)
        print(f"generated {path} ({path.stat().st_size / 1e6:.0f} MB) in {time.perf_counter() - began:.1f}s",
              flush=True)
        if shutil.which("sha256sum"):  # the physical limit of one pass: hashing alone, in C
            seconds = sha256sum(path, args.repeat)
            rows.append({"size_mb": size, "mode": "sha256sum", "seconds": round(seconds, 3),
                         "mb_per_s": round(path.stat().st_size / 1e6 / seconds, 1)})
            print(f"  sha256sum {rows[-1]['mb_per_s']:7.1f} MB/s  (hashing alone)", flush=True)
        for mode in ("hashlib", "streaming", "baseline"):
            if mode == "baseline" and size > args.skip_baseline_over:
                continue
            r = measure(mode, path, args.repeat if mode == "streaming" or size <= 100 else 1)
            rows.append({"size_mb": size, "mode": mode, **r})
            print(f"  {mode:<9} {r['mb_per_s']:7.1f} MB/s  peak {r['peak_mb']:8.1f} MB  "
                  f"{int(r['examples'])} examples  {r['seconds']:.2f}s", flush=True)
        path_results = [r for r in rows if r["size_mb"] == size and "sha256" in r]
        assert len({r["sha256"] for r in path_results}) == 1, "both modes must hash the same bytes"
    streaming = [r for r in rows if r["mode"] == "streaming"]
    slowest = min(r["mb_per_s"] for r in streaming)
    biggest = max(streaming, key=lambda r: r["size_mb"])
    hashing = {r["size_mb"]: r["mb_per_s"] for r in rows if r["mode"] == "hashlib"}
    ratio = max((hashing[r["size_mb"]] / r["mb_per_s"] for r in streaming if r["size_mb"] in hashing), default=0.0)
    coreutils = {r["size_mb"]: r["mb_per_s"] for r in rows if r["mode"] == "sha256sum"}
    sha_ratio = max((coreutils[r["size_mb"]] / r["mb_per_s"] for r in streaming if r["size_mb"] in coreutils),
                    default=0.0)
    ok = slowest >= GOAL_MBPS and biggest["peak_mb"] < GOAL_PEAK_MB and ratio <= GOAL_RATIO
    print(f"\nstreaming: slowest {slowest:.1f} MB/s (goal ≥ {GOAL_MBPS:.0f}); hashlib.file_digest at most "
          f"{ratio:.1f}× faster (goal ≤ {GOAL_RATIO}×), sha256sum {sha_ratio:.1f}×; peak {biggest['peak_mb']:.1f} MB "
          f"at {biggest['size_mb']} MB (goal < "
          f"{GOAL_PEAK_MB:.0f}) → {'goals met' if ok else 'GOALS NOT MET'}")
    results.store("datasets", {"rows": rows, "goal_mb_per_s": GOAL_MBPS,
                               "goal_ratio": GOAL_RATIO, "goal_peak_mb": GOAL_PEAK_MB, "slowest_mb_per_s": slowest,
                               "hashlib_ratio": round(ratio, 2), "sha256sum_ratio": round(sha_ratio, 2),
                               "baseline_ratio": "hashlib", "met": ok})
    return 0 if ok else 1
