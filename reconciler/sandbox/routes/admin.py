"""``/sandbox``: the admin API that tests drive (loopback only, no key; ``instruments`` checks).

``POST /sandbox/clock/advance {"seconds": N}`` moves the clock; ``GET /sandbox/stats`` counts
requests per route, files made per filename (deleted ones included) and faults served per kind and
route;
``PUT /sandbox/faults`` injects faults (of some methods, on some routes) and latency (``latency_ms`` on
every request, ``completion_latency_ms`` on each chat completion only: a model's thinking time, for
benchmarks of evaluations), and ``list_lag_s``: a new job is seen by ID at once but listed only that many
seconds (of the sandbox clock) after its creation, as a list that lags behind creates;
``POST /sandbox/reset`` empties it all.
"""

from __future__ import annotations

import random

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from reconciler.sandbox.state import NO_FAULTS, Sandbox, json_body

FAULT_KINDS = {"500", "429", "drop_before", "drop_after", "echo_key", "echo_masked_key"}


def routes(sb: Sandbox) -> list[Route]:
    async def clock(request: Request) -> Response:
        body = await json_body(request)
        seconds = body.get("seconds") if isinstance(body, dict) else None
        if not isinstance(seconds, int | float) or isinstance(seconds, bool) or seconds < 0:
            return sb.error(400, "'seconds' must be a non-negative number.", "seconds")
        return JSONResponse({"now": sb.store.advance(float(seconds))})

    def stats(request: Request) -> Response:
        with sb.fault_lock:  # counted on worker threads too
            made, served = dict(sb.files_made), dict(sb.faults_served)
        return JSONResponse({"requests": dict(sorted(sb.stats.items())), "total": sum(sb.stats.values()),
                             "files_made": made, "faults": served})

    async def faults(request: Request) -> Response:
        if request.method == "PUT":
            body = await json_body(request)
            kinds = body.get("kinds", ["500"])
            if not set(kinds) <= FAULT_KINDS:
                return sb.error(400, f"unknown fault kinds: {kinds}", "kinds")
            methods = body.get("methods")
            if methods is not None and not (isinstance(methods, list) and methods and
                                            all(m in ("GET", "POST", "DELETE") for m in methods)):
                return sb.error(400, "'methods' must be a non-empty list of GET, POST, DELETE.", "methods")
            routes = body.get("routes")
            if routes is not None and not (isinstance(routes, list) and routes and
                                           all(isinstance(r, str) and r.startswith("/") for r in routes)):
                return sb.error(400, "'routes' must be a non-empty list of paths (/v1/fine_tuning/jobs).", "routes")
            lag = body.get("list_lag_s", 0)
            if not isinstance(lag, int | float) or isinstance(lag, bool) or not 0 <= lag <= 3600:
                return sb.error(400, "'list_lag_s' must be a number of seconds from 0 to 3600.", "list_lag_s")
            with sb.fault_lock:
                sb.faults = {"rate": float(body.get("rate", 0)), "kinds": kinds,
                             "latency_ms": int(body.get("latency_ms", 0)),
                             "completion_latency_ms": int(body.get("completion_latency_ms", 0)),
                             "seed": body.get("seed"), "retry_after": body.get("retry_after", 1), "methods": methods,
                             "routes": routes, "list_lag_s": float(lag)}
                sb.rng = random.Random(sb.faults["seed"])
        return JSONResponse(sb.faults)

    def reset(request: Request) -> Response:
        sb.store.reset()
        sb.stats.clear()
        with sb.store.lock:
            sb.memory_jobs.clear()
        with sb.fault_lock:
            sb.files_made.clear()
            sb.faults_served.clear()
            sb.faults = dict(NO_FAULTS)
        return JSONResponse({"reset": True})

    def info(request: Request) -> Response:
        options = sb.options
        return JSONResponse({"flavor": sb.flavor.name, "prefix": sb.flavor.prefix, "id": sb.store.identity(),
                             "now": sb.store.now(), "clock": "manual" if sb.store.manual else "real",
                             "speed": options.speed, "max_active_jobs": options.max_active_jobs,
                             "daily_limit": options.daily_limit, "drop_fields": sorted(options.drop_fields)})

    return [Route("/sandbox/clock/advance", clock, methods=["POST"]), Route("/sandbox/stats", stats, methods=["GET"]),
            Route("/sandbox/faults", faults, methods=["GET", "PUT"]), Route("/sandbox/reset", reset, methods=["POST"]),
            Route("/sandbox/info", info, methods=["GET"])]
