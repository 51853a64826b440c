"""The sandbox under load: a filtered list page (``metadata[ftctl-stack]=…``, 100 jobs) out of 10,000
jobs, one client at a time, then 50 clients at once (timed from when every client is ready); beside it
the unfiltered page, at random points of the whole listing.

The database is seeded as for ``bench plan`` (1,000 manifests' jobs among 10,000); the server runs in
its own process with no injected latency. Pages are read at random points of the stack's listing
(an ``after`` cursor), as ftctl's paging reads them.

Goals (issue 12): median under 20 ms for the filtered page; 50 concurrent clients without an error.
Usage: python -m bench sandbox [--requests 300] [--clients 50]
"""

from __future__ import annotations

import argparse
import random
import statistics
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import httpx

from bench import results
from bench.live import STACK, seed, supervised_project
from reliability.sandbox import KEY, SandboxProcess

GOAL_MEDIAN_MS = 20.0
FILTER = {"metadata[ftctl-stack]": STACK}


def _timed_pages(client: httpx.Client, cursors: list[str | None], params: dict[str, Any], errors: list[str]) -> list[
        float]:
    out = []
    for after in cursors:
        started = time.perf_counter()
        try:
            cursor = {"after": after} if after else {}
            answer = client.get("fine_tuning/jobs", params={"limit": 100, **params, **cursor})
            if answer.status_code != 200 or len(answer.json()["data"]) == 0:
                errors.append(f"{answer.status_code}: {answer.text[:200]}")
        except httpx.HTTPError as exc:
            errors.append(repr(exc))
        out.append((time.perf_counter() - started) * 1000)
    return out


def _stats(ms: list[float]) -> dict[str, float]:
    ordered = sorted(ms)
    return {"median_ms": round(statistics.median(ordered), 2), "p95_ms": round(ordered[int(len(ordered) * 0.95)], 2)}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench sandbox", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--requests", type=int, default=300)
    parser.add_argument("--clients", type=int, default=50)
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="ftctl-sandbox-bench-") as tmp:
        root = Path(tmp) / "project"
        supervised_project(root, 1000)
        seeded = seed(root, Path(tmp) / "sandbox.db", 10_000)
        with SandboxProcess(Path(tmp) / "sandbox.db", "--clock", "manual") as server:
            headers = {"Authorization": f"Bearer {KEY}"}
            with httpx.Client(base_url=server.url + "/", headers=headers, timeout=60) as client:
                everything = server.listing("fine_tuning/jobs")
                ids = [j["id"] for j in everything if j["metadata"].get("ftctl-stack") == STACK]
                rng = random.Random(1)
                cursors: list[str | None] = [None, *(rng.choice(ids[:-100]) for _ in range(args.requests - 1))]
                anywhere: list[str | None] = [None, *(rng.choice(everything[:-100])["id"]
                                                      for _ in range(args.requests - 1))]
                errors: list[str] = []
                _timed_pages(client, cursors[:20], FILTER, errors)  # warm up both
                _timed_pages(client, anywhere[:20], {}, errors)
                filtered = _stats(_timed_pages(client, cursors, FILTER, errors))
                unfiltered = _stats(_timed_pages(client, anywhere, {}, errors))
            per_client: list[list[float]] = [[] for _ in range(args.clients)]
            ready = threading.Barrier(args.clients + 1, timeout=60)  # every client made before the clock starts

            def one_client(i: int) -> None:
                with httpx.Client(base_url=server.url + "/", headers=headers, timeout=60) as own:
                    ready.wait()
                    per_client[i] = _timed_pages(own, cursors[i::args.clients] or cursors[:1], FILTER, errors)

            threads = [threading.Thread(target=one_client, args=(i,)) for i in range(args.clients)]
            for t in threads:
                t.start()
            ready.wait()
            started = time.perf_counter()
            for t in threads:
                t.join()
            wall = time.perf_counter() - started
            together = [ms for each in per_client for ms in each]
    concurrent = {**_stats(together), "clients": args.clients, "requests": len(together), "errors": len(errors),
                  "requests_per_s": round(len(together) / wall, 1)}
    met = filtered["median_ms"] < GOAL_MEDIAN_MS and not errors
    print(f"  filtered page of 100 out of {seeded.jobs:,} jobs ({seeded.managed:,} match): median "
          f"{filtered['median_ms']} ms, p95 {filtered['p95_ms']} ms (goal median < {GOAL_MEDIAN_MS:.0f} ms)")
    print(f"  unfiltered page: median {unfiltered['median_ms']} ms, p95 {unfiltered['p95_ms']} ms")
    print(f"  {args.clients} clients at once: {len(together)} pages, {len(errors)} errors, median "
          f"{concurrent['median_ms']} ms, p95 {concurrent['p95_ms']} ms, {concurrent['requests_per_s']} pages/s")
    for error in errors[:5]:
        print(f"    error: {error}")
    print(f"  {'met' if met else 'NOT MET'}")
    results.store("sandbox", {"jobs": seeded.jobs, "matching": seeded.managed, "filtered": filtered,
                              "unfiltered": unfiltered, "concurrent": concurrent, "goal_median_ms": GOAL_MEDIAN_MS,
                              "met": met})
    return 0 if met else 1
