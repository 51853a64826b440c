"""Apply throughput: 100 creates against a sandbox answering every request after 50 ms, with
--parallelism 1, 4 and 16, each on a fresh server. Goal (issue 12): at least 8× faster at 16 than at 1.
Each create is a look-up by tags, the POST and a read-back (the tag round trip and concurrent
applies): three round trips, so one at a time it costs at least 150 ms.
"""

from __future__ import annotations

import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

from bench import results
from reliability.sandbox import KEY, SandboxProcess

GOAL_SPEEDUP = 8.0
TRAIN = Path(__file__).resolve().parent.parent / "manifests" / "data" / "support" / "train.jsonl"


def one_run(parallelism: int, creates: int, latency_ms: int) -> float:
    with tempfile.TemporaryDirectory(prefix="ftctl-apply-bench-") as tmp:
        root = Path(tmp) / "project"
        (root / ".git").mkdir(parents=True)
        (root / "manifests").mkdir()
        with SandboxProcess(Path(tmp) / "sandbox.db") as server:
            upload = httpx.post(f"{server.url}/files", headers={"Authorization": f"Bearer {KEY}"},
                                data={"purpose": "fine-tune"}, files={"file": ("t.jsonl", TRAIN.read_bytes())}).json()
            for i in range(creates):
                (root / "manifests" / f"j{i:03d}.yaml").write_text(
                    f"name: j{i:03d}\nmodel: gpt-4o-mini\ntraining_file: {upload['id']}\n")
            server.admin("PUT", "faults", {"rate": 0, "latency_ms": latency_ms})
            env = server.env()
            started = time.monotonic()
            done = subprocess.run([sys.executable, "-m", "reconciler", "apply", "--auto-approve", "--parallelism",
                                   str(parallelism)], cwd=root, env=env, capture_output=True, text=True, timeout=900)
            seconds = time.monotonic() - started
            if done.returncode != 0 or f"Apply finished: {creates} done" not in done.stdout:
                raise RuntimeError(f"apply failed: {done.stdout[-500:]}{done.stderr[-500:]}")
            return seconds


def main(argv: list[str] | None = None) -> int:
    creates, latency = 100, 50
    figures = {}
    for parallelism in (1, 4, 16):
        figures[parallelism] = round(one_run(parallelism, creates, latency), 2)
        print(f"  {creates} creates at {latency} ms latency, --parallelism {parallelism:>2}: "
              f"{figures[parallelism]:6.2f} s (×{figures[1] / figures[parallelism]:.1f})", flush=True)
    speedup = figures[1] / figures[16]
    met = speedup >= GOAL_SPEEDUP
    print(f"  speed-up at 16: ×{speedup:.1f} (goal ≥ ×{GOAL_SPEEDUP:.0f}) {'met' if met else 'NOT MET'}")
    results.store("apply", {"creates": creates, "latency_ms": latency, "seconds_by_parallelism": figures,
                            "speedup_at_16": round(speedup, 1), "goal": GOAL_SPEEDUP, "met": met})
    return 0 if met else 1
