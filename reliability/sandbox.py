"""``ftctl sandbox serve`` in a child process on a free loopback port: the one wrapper with which the
tests, the benchmarks and the reliability runs start a sandbox server, drive its admin API (clock,
faults, counters, reset), read what is live, and run ftctl against it.

The server is started as a user starts it (``python -m reconciler sandbox serve --port 0 …``), in an
environment without the user's FTCTL_, OPENAI_ and AZURE_ settings (``clean_env``), and its first
line names its URL. What it prints after that line is read as it comes, on a thread (an unread pipe
would stop a server that prints much), and kept in ``output``: a test can assert that a server said
nothing it should not have (a traceback).
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import threading
from pathlib import Path
from types import TracebackType
from typing import Any

import httpx

KEY = "sk-reliability-0123456789"
ALL_FAULTS = ["500", "429", "drop_before", "drop_after"]


def clean_env(**more: str) -> dict[str, str]:
    """This process's environment without the user's FTCTL_, OPENAI_ and AZURE_ settings, with no
    colour, plus ``more``: what ftctl (or a sandbox server) runs in under a test."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("FTCTL_", "OPENAI_", "AZURE_"))}
    env.update({"NO_COLOR": "1", **more})
    return env


class SandboxProcess:
    """``ftctl sandbox serve --db DB OPTIONS…`` (e.g. ``"--clock", "manual"``, ``"--flavor", "azure"``,
    ``"--speed", "0.01"``); ``start()`` it, or use it as a context manager."""

    def __init__(self, db: Path, *options: str) -> None:
        self.db = db
        self.options = options
        self.proc: subprocess.Popen[str] | None = None
        self.base = ""  # http://127.0.0.1:PORT
        self.prefix = "/v1"  # /openai/v1 in the Azure flavour
        self._lines: list[str] = []
        self._reader: threading.Thread | None = None

    def start(self) -> SandboxProcess:
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "reconciler", "sandbox", "serve", "--port", "0", "--db", str(self.db),
             *self.options], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=clean_env())
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline()
        found = re.search(r"(http://127\.0\.0\.1:\d+)(/\S*v1) ", line)
        if not found:
            rest = self.proc.stdout.read() if self.proc.poll() is not None else ""
            self.stop()
            raise RuntimeError(f"the sandbox did not start: {line + rest!r}")
        self.base, self.prefix = found.group(1), found.group(2)
        self._reader = threading.Thread(target=self._read, args=(self.proc.stdout,), daemon=True,
                                        name="sandbox-output")
        self._reader.start()
        return self

    def _read(self, stream: Any) -> None:
        for line in stream:
            self._lines.append(line)

    def stop(self) -> None:
        """Terminate the server (and wait for it); ``output`` then holds all it printed."""
        if self.proc is None:
            return
        self.proc.terminate()
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(timeout=10)
        if self._reader is not None:
            self._reader.join(timeout=10)
        if self.proc.stdout is not None:
            self.proc.stdout.close()
        self.proc = None

    def __enter__(self) -> SandboxProcess:
        return self.start()

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None,
                 trace: TracebackType | None) -> None:
        self.stop()

    @property
    def url(self) -> str:
        """The API base, as ``--api-base`` and ``OPENAI_BASE_URL`` take it."""
        return self.base + self.prefix

    @property
    def output(self) -> str:
        """What the server printed after its first line, so far."""
        return "".join(self._lines)

    # -- the admin API (/sandbox/…) --------------------------------------------------------------
    def admin(self, method: str, path: str, body: Any = None) -> Any:
        answer = httpx.request(method, f"{self.base}/sandbox/{path}", json=body, timeout=30)
        answer.raise_for_status()
        return answer.json()

    def advance(self, seconds: float) -> None:
        self.admin("POST", "clock/advance", {"seconds": seconds})

    def stats(self) -> dict[str, int]:
        """Requests served per route (``"POST /v1/files"``)."""
        return dict(self.admin("GET", "stats")["requests"])

    def faults(self, rate: float, seed: int = 0, latency_ms: int = 0, kinds: list[str] = ALL_FAULTS,
               methods: list[str] | None = None, retry_after: float = 0.05, routes: list[str] | None = None,
               completion_latency_ms: int = 0, list_lag_s: float = 0) -> None:
        """Faults at ``rate`` (of ``kinds``, on ``methods`` and ``routes`` if given), ``latency_ms`` on every
        request, ``completion_latency_ms`` more on each chat completion (a model's time to answer), and a
        job list ``list_lag_s`` seconds behind creates (a new job is seen by ID at once, listed only then)."""
        self.admin("PUT", "faults", {"rate": rate, "kinds": kinds, "seed": seed, "latency_ms": latency_ms,
                                     "retry_after": retry_after, "methods": methods, "routes": routes,
                                     "completion_latency_ms": completion_latency_ms, "list_lag_s": list_lag_s})

    # -- the API, and ftctl against it ----------------------------------------------------------
    def listing(self, path: str, **params: str) -> list[dict[str, Any]]:
        """Every item of a list route (``files``, ``fine_tuning/jobs``), newest first, all pages."""
        out: list[dict[str, Any]] = []
        after = None
        while True:
            query: dict[str, str | int] = {"limit": 100, **params, **({"after": after} if after else {})}
            page = httpx.get(f"{self.url}/{path}", params=query, headers={"Authorization": f"Bearer {KEY}"},
                             timeout=30).json()
            out += page["data"]
            if not page.get("has_more") or not page["data"]:
                return out
            after = page["data"][-1]["id"]

    def env(self, key: str = KEY, **more: str) -> dict[str, str]:
        """The environment ftctl runs in against this server: ``clean_env`` with the key and this server
        as the API base."""
        return clean_env(**{"OPENAI_API_KEY": key, "OPENAI_BASE_URL": self.url, **more})
