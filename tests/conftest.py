"""Fixtures shared by the tests: an empty repository, sandbox servers (``reliability/sandbox.py``)
and a workspace beside one (``tests/workspace.py``)."""

from __future__ import annotations

import signal
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import openai
import pytest

from reliability.sandbox import SandboxProcess
from tests.openapi import Recorder
from tests.workspace import Workspace

# A suite started in the background of a shell without job control inherits SIGINT ignored, and so would
# every ftctl it starts (an ignored signal stays ignored across exec): the interrupt tests need Ctrl-C
# delivered as on a terminal.
signal.signal(signal.SIGINT, signal.default_int_handler)

ROOT = Path(__file__).resolve().parent.parent
Serve = Callable[..., SandboxProcess]
"""The ``serve`` fixture: ``serve("--clock", "manual")`` starts a server with those options."""


@pytest.fixture
def repo(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An empty repository (``.git`` marks its root) as the working directory."""
    (tmp_path / ".git").mkdir()
    monkeypatch.chdir(tmp_path)
    return tmp_path


@pytest.fixture(scope="module")
def sandbox_module(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SandboxProcess]:
    with SandboxProcess(tmp_path_factory.mktemp("sandbox") / "sandbox.db") as server:
        yield server


@pytest.fixture
def sandbox(sandbox_module: SandboxProcess) -> SandboxProcess:
    """A running sandbox server, reset to empty for each test."""
    sandbox_module.admin("POST", "reset")
    return sandbox_module


@pytest.fixture
def serve(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Serve]:
    """Starts ``ftctl sandbox serve OPTIONS…`` on a database of its own; each is stopped after the test."""
    started: list[SandboxProcess] = []

    def start(*options: str) -> SandboxProcess:
        started.append(SandboxProcess(tmp_path_factory.mktemp("served") / "sandbox.db", *options).start())
        return started[-1]

    yield start
    for server in started:
        server.stop()


@pytest.fixture
def server(serve: Serve) -> SandboxProcess:
    """A sandbox server of the test's own on a manual clock: time passes for its jobs only when the test
    says so."""
    return serve("--clock", "manual")


@pytest.fixture
def ws(tmp_path: Path, sandbox: SandboxProcess) -> Workspace:
    """A project with one manifest (bot) and its training data, next to a running sandbox."""
    return Workspace.create(tmp_path, sandbox)


@pytest.fixture
def recorder() -> Recorder:
    return Recorder()


@pytest.fixture
def client(sandbox: SandboxProcess, recorder: Recorder) -> Iterator[openai.OpenAI]:
    http = httpx.Client(event_hooks={"response": [recorder]}, timeout=10)
    yield openai.OpenAI(base_url=sandbox.url, api_key="sk-sandbox", max_retries=0,
                        http_client=http)  # type: ignore[arg-type]  # the SDK's stubs name its own httpx fork
    http.close()
