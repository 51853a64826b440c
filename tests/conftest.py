from __future__ import annotations

import re
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import httpx
import pytest

if TYPE_CHECKING:
    from tests.workspace import Workspace

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture
def repo(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An empty repository (``.git`` marks its root) as the working directory."""
    (tmp_path / ".git").mkdir()
    monkeypatch.chdir(tmp_path)
    return tmp_path


class SandboxProcess:
    """``ftctl sandbox serve`` in a child process on a free loopback port."""

    def __init__(self, db: Path, speed: float = 1.0, *options: str) -> None:
        self.db = db
        self.speed = speed
        self.options = options  # e.g. "--flavor", "azure", "--clock", "manual"
        self.proc: subprocess.Popen[str] | None = None
        self.base = ""
        self.prefix = "/v1"

    def start(self) -> SandboxProcess:
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "reconciler", "sandbox", "serve", "--port", "0", "--db", str(self.db),
             "--speed", str(self.speed), *self.options],
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline()
        match = re.search(r"(http://127\.0\.0\.1:\d+)(/\S*v1) ", line)
        assert match, f"sandbox did not start: {line!r}"
        self.base, self.prefix = match.group(1), match.group(2)
        return self

    def stop(self) -> None:
        if self.proc is not None:
            self.proc.terminate()
            self.proc.wait(timeout=10)
            if self.proc.stdout is not None:
                self.proc.stdout.close()
            self.proc = None

    @property
    def url(self) -> str:
        return self.base + self.prefix

    def admin(self, method: str, path: str, body: Any = None) -> Any:
        response = httpx.request(method, f"{self.base}/sandbox/{path}", json=body, timeout=10)
        response.raise_for_status()
        return response.json()

    def advance(self, seconds: float) -> None:
        self.admin("POST", "clock/advance", {"seconds": seconds})

    def stats(self) -> dict[str, int]:
        return dict(self.admin("GET", "stats")["requests"])


@pytest.fixture(scope="module")
def sandbox_module(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SandboxProcess]:
    server = SandboxProcess(tmp_path_factory.mktemp("sandbox") / "sandbox.db").start()
    yield server
    server.stop()


@pytest.fixture
def sandbox(sandbox_module: SandboxProcess) -> SandboxProcess:
    """A running sandbox server, reset to empty for each test."""
    sandbox_module.admin("POST", "reset")
    return sandbox_module


@pytest.fixture
def ws(tmp_path: Path, sandbox: SandboxProcess) -> Workspace:
    """A project with one manifest (bot) and its training data, next to a running sandbox."""
    from tests.workspace import Workspace

    (tmp_path / ".git").mkdir()
    (tmp_path / "manifests" / "data").mkdir(parents=True)
    shutil.copy(ROOT / "manifests" / "data" / "support" / "train.jsonl", tmp_path / "manifests" / "data")
    w = Workspace(tmp_path, sandbox)
    w.write()
    return w


