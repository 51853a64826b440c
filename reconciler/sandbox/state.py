"""The state of one sandbox server and what every route shares: the store, the options (flavour,
quotas), counters and faults, error bodies in the flavour's dialect, idempotency keys, paging."""

from __future__ import annotations

import hashlib
import json
import random
import secrets
import string
import threading
from collections import Counter
from collections.abc import Callable
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from reconciler.sandbox.flavor import Options
from reconciler.sandbox.lifecycle import Job
from reconciler.sandbox.requests import ApiError
from reconciler.sandbox.store import Store
from reconciler.sandbox.validation import integer

_ALNUM = string.ascii_letters + string.digits
NO_FAULTS: dict[str, Any] = {"rate": 0.0, "kinds": [], "latency_ms": 0, "completion_latency_ms": 0, "seed": None,
                             "retry_after": 1, "methods": None, "routes": None, "list_lag_s": 0.0}


def new_id(prefix: str, n: int = 24) -> str:
    return prefix + "".join(secrets.choice(_ALNUM) for _ in range(n))


def body_hash(body: Any) -> str:
    return hashlib.sha256(json.dumps(body, sort_keys=True, default=str).encode()).hexdigest()


def _not_json(constant: str) -> Any:
    raise ValueError(f"{constant} is not JSON")


async def json_body(request: Request) -> Any:
    """The request's JSON (``{}`` when empty); NaN and Infinity, which Python would read, are not JSON."""
    raw = await request.body()
    try:
        return json.loads(raw or b"{}", parse_constant=_not_json)
    except (ValueError, RecursionError):  # RecursionError: nested deeper than the parser goes
        raise ApiError(400, "We could not parse the JSON body of your request.", None, "invalid_json") from None


def int_param(request: Request, name: str, default: int, high: int) -> int:
    raw = request.query_params.get(name)
    if raw is None:
        return default
    value = integer(raw, name)
    if not 1 <= value <= high:
        raise ApiError(400, f"Invalid '{name}': must be between 1 and {high}.", name, "invalid_value")
    return value


def page(request: Request, items: list[dict[str, Any]], default: int, first_last: bool = False) -> Response:
    limit = int_param(request, "limit", default, 100)
    after = request.query_params.get("after")
    if after:
        ids = [item["id"] for item in items]
        items = items[ids.index(after) + 1:] if after in ids else []
    chosen = items[:limit]
    body: dict[str, Any] = {"object": "list", "data": chosen, "has_more": len(items) > limit}
    if first_last:
        body["first_id"] = chosen[0]["id"] if chosen else None
        body["last_id"] = chosen[-1]["id"] if chosen else None
    return JSONResponse(body)


class Sandbox:
    def __init__(self, store: Store, options: Options) -> None:
        self.store, self.options, self.flavor = store, options, options.flavor
        self.stats: Counter[str] = Counter()  # requests per route
        self.files_made: Counter[str] = Counter()  # per filename, since start, deleted ones too
        self.faults_served: Counter[str] = Counter()  # per "kind METHOD route"
        self.faults: dict[str, Any] = dict(NO_FAULTS)
        self.rng = random.Random()
        self.fault_lock = threading.Lock()
        self.memory_jobs: dict[str, Job] = {}
        """OPEA's flavour: its jobs, in this process's memory only, as the service keeps them."""

    @property
    def speed(self) -> float:
        return self.options.speed

    def error(self, status: int, message: str, param: str | None = None, code: str | None = None,
              kind: str = "invalid_request_error", headers: dict[str, str] | None = None) -> JSONResponse:
        return JSONResponse(self.flavor.error_body(message, param, code, kind), status, headers=headers)

    def idempotent(self, request: Request, digest: str, write: Callable[[], tuple[int, Any]]) -> Response:
        """Run ``write`` once per ``Idempotency-Key``: a repeat with the same body replays the answer."""
        key = request.headers.get("idempotency-key") if self.options.idempotency else None
        if not key:
            status, body = self._call(write)
            return JSONResponse(body, status)
        route = f"{request.method} {request.url.path}"
        with self.store.lock:  # check and write as one step: a concurrent repeat waits, then replays
            seen = self.store.idempotent(key, route)
            if seen is not None:
                if seen[0] != digest:
                    return self.error(400, "This Idempotency-Key was already used with a different request body.",
                                      None, "idempotency_key_reused")
                return JSONResponse(seen[2], seen[1], headers={"Idempotent-Replayed": "true"})
            status, body = self._call(write)
            if status < 500 and status != 429:  # refused for now, not done: a repeat may succeed later
                self.store.remember(key, route, digest, status, body)
            return JSONResponse(body, status)

    def _call(self, write: Callable[[], tuple[int, Any]]) -> tuple[int, Any]:
        try:
            return write()
        except ApiError as exc:
            return exc.status, exc.body(self.flavor)

    def pick_fault(self, method: str, route: str) -> str | None:
        """A fault for this request, or None; counted per kind and route. ``methods`` and ``routes``, when
        set, limit faults to those (``["POST"]``: writes only; ``["/v1/fine_tuning/jobs"]``: that route
        only); their requests alone draw from the seeded sequence."""
        with self.fault_lock:
            methods, routes = self.faults.get("methods"), self.faults.get("routes")
            if not self.faults["kinds"] or (methods and method not in methods) or (routes and route not in routes) \
                    or self.rng.random() >= self.faults["rate"]:
                return None
            fault = str(self.rng.choice(self.faults["kinds"]))
            self.faults_served[f"{fault} {method} {route}"] += 1
            return fault

    def listed(self, created_at: float, now: float) -> bool:
        """Whether a job made at ``created_at`` shows in listings yet (``list_lag_s``: a list that lags
        behind creates, as an eventually consistent one may; a GET by ID sees the job at once)."""
        return now - created_at >= float(self.faults.get("list_lag_s") or 0)

    def made_file(self, filename: str) -> None:
        with self.fault_lock:  # writes run on worker threads
            self.files_made[filename] += 1
