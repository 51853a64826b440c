"""The API client: Azure's missing metadata filter, key headers, retries of GETs only, big uploads."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
import pytest

from reconciler.api import upload as api_upload
from reconciler.api.client import Reader, Target, Transport, Writer
from reconciler.api.errors import ApiError
from reconciler.api.retry import RetryPolicy
from reconciler.api.upload import ContentChanged
from reconciler.api.urls import check_base_url
from reconciler.identity import sha256_file
from reconciler.providers import AZURE, COMPATIBLE, Provider, detect
from reconciler.session.settings import SetupError, build
from reconciler.session.target import remote_target
from reliability.sandbox import SandboxProcess

NO_WAIT = RetryPolicy(sleep=lambda s: None)

JOBS = [
    {"id": "ftjob-3", "status": "running", "created_at": 3, "metadata": {"ftctl-stack": "s", "ftctl-name": "a"}},
    {"id": "ftjob-2", "status": "running", "created_at": 2, "metadata": {"ftctl-stack": "other"}},
    {"id": "ftjob-1", "status": "succeeded", "created_at": 1, "metadata": None},
]


def _server(seen: list[httpx.Request], reject_metadata: bool = False) -> httpx.MockTransport:
    """A stand-in for a server without a metadata filter (Azure OpenAI v1): pages of one job."""

    def handle(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        if reject_metadata and any(k.startswith("metadata[") for k in request.url.params):
            return httpx.Response(400, json={"error": {"message": "Unknown parameter: metadata", "type": "x",
                                                       "param": "metadata", "code": None}})
        after = request.url.params.get("after")
        start = 0 if after is None else [j["id"] for j in JOBS].index(after) + 1
        return httpx.Response(200, json={"object": "list", "data": JOBS[start:start + 1],
                                         "has_more": start + 1 < len(JOBS)})

    return httpx.MockTransport(handle)


@pytest.fixture
def writer(request: pytest.FixtureRequest, sandbox: SandboxProcess) -> Writer:
    """A writer to the sandbox, its connections closed after the test."""
    transport = Transport(Target(sandbox.url, "k"))
    request.addfinalizer(transport.close)
    return Writer(transport)


def _reader(target: Target, transport: httpx.MockTransport) -> Reader:
    http = httpx.Client(base_url=target.base_url + "/", transport=transport, headers=target.headers())
    return Reader(Transport(target, http), retry=NO_WAIT)


def test_azure_target_lists_everything_and_filters_locally() -> None:
    seen: list[httpx.Request] = []
    target = Target("https://res.openai.azure.com/openai/v1", "azure-key", AZURE)
    jobs = _reader(target, _server(seen)).stack_jobs("s")
    assert [j.id for j in jobs] == ["ftjob-3"]
    assert len(seen) == 3  # followed `after` through every page
    assert all(r.headers["api-key"] == "azure-key" and "authorization" not in r.headers for r in seen)
    assert not any(k.startswith("metadata[") for r in seen for k in r.url.params)


def test_a_server_that_refuses_the_filter_falls_back_to_listing() -> None:
    seen: list[httpx.Request] = []
    target = Target("https://compatible.example/v1", "k")
    jobs = _reader(target, _server(seen, reject_metadata=True)).stack_jobs("s")
    assert [j.id for j in jobs] == ["ftjob-3"]
    assert "metadata[ftctl-stack]" in seen[0].url.params  # tried the filter first
    assert seen[0].headers["authorization"] == "Bearer k"


def test_gets_are_retried_and_writes_are_not() -> None:
    calls: list[str] = []

    def flaky(request: httpx.Request) -> httpx.Response:
        calls.append(request.method)
        if len(calls) < 3:
            return httpx.Response(503, json={"error": {"message": "busy"}})
        return httpx.Response(200, json={"id": "ftjob-1", "status": "running"})

    target = Target("https://api.example/v1", "k")
    http = httpx.Client(base_url=target.base_url + "/", transport=httpx.MockTransport(flaky))
    transport = Transport(target, http)
    assert Reader(transport, retry=NO_WAIT).get_job("ftjob-1").status == "running"
    assert calls == ["GET", "GET", "GET"]
    calls.clear()
    with pytest.raises(ApiError) as info:
        Writer(transport).act("ftjob-1", "cancel")
    assert calls == ["POST"] and info.value.ambiguous


def test_target_selection_from_environment(tmp_path: Path) -> None:
    def target(api_base: str | None, env: dict[str, str]) -> Target:
        return remote_target(build(env, tmp_path, api_base=api_base))

    azure = target("https://res.openai.azure.com/openai/v1", {"AZURE_OPENAI_API_KEY": "az-key-123"})
    assert azure.provider is AZURE and azure.headers() == {"api-key": "az-key-123"}
    openai = target(None, {"OPENAI_API_KEY": "sk-key-456", "OPENAI_BASE_URL": "http://127.0.0.1:9/v1"})
    assert openai.provider.name == "compatible" and openai.base_url == "http://127.0.0.1:9/v1"
    assert "az-key-123" not in repr(azure) and "sk-key-456" not in repr(openai)
    with pytest.raises(SetupError, match="--sandbox"):
        target(None, {})
    assert check_base_url("http://10.1.2.3/v1") is not None
    assert check_base_url("http://localhost:8787/v1") is None
    # the paths are appended to the base: a query or fragment would swallow them, a user would leak
    for bad, word in [("https://api.example.com/v1?api-version=1", "query"), ("https://api.example.com/v1#x", "query"),
                      ("https://u:p@api.example.com/v1", "user")]:
        assert word in (check_base_url(bad) or ""), bad


@pytest.mark.parametrize(("base", "provider"), [
    ("https://res.openai.azure.com/openai/v1", "azure"),
    ("https://llm.acme.example/openai/v1", "azure"),  # a custom domain or gateway in front of Azure OpenAI
    ("https://gateway.acme.example/azure/openai/v1/", "azure"),
    ("https://api.openai.com/v1", "openai"),
    ("https://gateway.acme.example/v1", "compatible"),
    ("https://gateway.acme.example/openai/v1beta", "compatible"),
    ("https://bedrock-mantle.us-west-2.api.aws/v1", "bedrock"),  # AWS's fine-tuning sample's host
    ("https://bedrock-mantle.eu-central-1.api.aws/v1/", "bedrock"),
    ("https://bedrock-mantle.us-west-2.api.aws.evil.example/v1", "compatible"),
    ("http://127.0.0.1:8015/v1", "compatible"),  # OPEA's service runs anywhere: --provider opea
])
def test_the_provider_is_detected_from_the_base_url(base: str, provider: str) -> None:
    assert detect(base).name == provider


@pytest.mark.parametrize(("base", "env", "message"), [
    ("https://llm.acme.example/openai/v1", {"OPENAI_API_KEY": "sk-1"},
     "https://llm.acme.example/openai/v1 is treated as azure (from its URL), which takes its key from "
     "AZURE_OPENAI_API_KEY; that is not set, but OPENAI_API_KEY is: set AZURE_OPENAI_API_KEY, or give --provider "
     "openai or compatible if the target is that instead"),
    ("https://gateway.acme.example/v1", {"AZURE_OPENAI_API_KEY": "az-1"},
     "https://gateway.acme.example/v1 is treated as compatible (from its URL), which takes its key from "
     "OPENAI_API_KEY; that is not set, but AZURE_OPENAI_API_KEY is: set OPENAI_API_KEY, or give --provider azure "
     "if the target is that instead"),
])
def test_the_other_providers_key_alone_is_refused_before_any_request(tmp_path: Path, base: str,
                                                                     env: dict[str, str], message: str) -> None:
    with pytest.raises(SetupError) as refused:
        remote_target(build(env, tmp_path, api_base=base))
    assert str(refused.value) == message


def test_big_files_go_through_the_uploads_api_in_parts(sandbox: SandboxProcess, writer: Writer, tmp_path: Path,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(api_upload, "SIMPLE_UPLOAD_LIMIT", 1000)  # stand-ins for 512 MB and 64 MB
    monkeypatch.setattr(api_upload, "PART_SIZE", 400)
    data = tmp_path / "big.jsonl"
    data.write_bytes(b"".join(b'{"n": %d}\n' % i for i in range(300)))
    progress: list[int] = []
    uploaded = writer.upload(data, "ftctl-x-big.jsonl", "key-1", sha256_file(data), progress.append)
    assert uploaded.bytes == data.stat().st_size and uploaded.filename == "ftctl-x-big.jsonl"
    parts = -(-data.stat().st_size // 400)
    assert sandbox.stats()["POST /v1/uploads/{upload_id}/parts"] == parts
    assert sum(progress) == data.stat().st_size
    content = httpx.get(f"{sandbox.url}/files/{uploaded.id}/content", headers={"Authorization": "Bearer k"})
    assert content.content == data.read_bytes()


def test_small_upload_reports_progress(sandbox: SandboxProcess, writer: Writer, tmp_path: Path) -> None:
    data = tmp_path / "small.jsonl"
    data.write_bytes(b"{}\n" * 1000)
    progress: list[Any] = []
    writer.upload(data, "small.jsonl", "key-2", sha256_file(data), progress.append)
    assert sum(progress) == data.stat().st_size
    assert "POST /v1/uploads" not in sandbox.stats()


@pytest.mark.parametrize("big", [False, True])
def test_an_upload_whose_bytes_are_not_the_planned_ones_is_deleted(sandbox: SandboxProcess, writer: Writer,
                                                                    tmp_path: Path,
                                                                    monkeypatch: pytest.MonkeyPatch, big: bool) -> None:
    if big:
        monkeypatch.setattr(api_upload, "SIMPLE_UPLOAD_LIMIT", 1000)
        monkeypatch.setattr(api_upload, "PART_SIZE", 400)
    data = tmp_path / "train.jsonl"
    data.write_bytes(b'{"n": 1}\n' * 300)
    planned = sha256_file(data)
    data.write_bytes(b'{"n": 2}\n' * 300)  # edited after the plan, same size
    with pytest.raises(ContentChanged, match="changed after the plan was made"):
        writer.upload(data, f"ftctl-{planned}-train.jsonl", "key-3", planned)
    files = httpx.get(f"{sandbox.url}/files", headers={"Authorization": "Bearer k"}).json()["data"]
    assert files == []


@pytest.mark.parametrize(("base", "provider", "hint"), [
    ("https://gateway.example", COMPATIBLE, "on compatible it usually ends in /v1, as in https://HOST/v1"),
    ("https://acme.openai.azure.com/v1", AZURE,
     "on azure it usually ends in /openai/v1, as in https://RESOURCE.openai.azure.com/openai/v1"),
])
def test_a_404_from_a_base_url_of_another_shape_says_how_it_should_end(base: str, provider: Provider,
                                                                        hint: str) -> None:
    def handle(request: httpx.Request) -> httpx.Response:
        return httpx.Response(404, json={"error": {"message": "Not found"}})

    target = Target(base, "k", provider)
    http = httpx.Client(base_url=target.base_url + "/", transport=httpx.MockTransport(handle))
    with pytest.raises(ApiError) as info:
        Reader(Transport(target, http), retry=NO_WAIT).list_files()
    assert str(info.value) == f"HTTP 404: Not found (the API base URL {base} may be wrong: {hint})"


def test_events_are_read_page_by_page_and_only_as_many_as_asked() -> None:
    events = [{"id": f"ev-{i}", "created_at": i, "level": "info", "message": f"m{i}", "type": "message"}
              for i in (3, 2, 1)]  # newest first, as the API lists them
    seen: list[httpx.Request] = []

    def handle(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        after = request.url.params.get("after")
        start = 0 if after is None else [e["id"] for e in events].index(after) + 1
        return httpx.Response(200, json={"object": "list", "data": events[start:start + 1],
                                         "has_more": start + 1 < len(events)})

    reader = _reader(Target("https://api.example.com/v1", "k"), httpx.MockTransport(handle))
    assert [e.message for e in reader.list_events("ftjob-1")] == ["m3", "m2", "m1"]
    assert len(seen) == 3 and all(r.url.path == "/v1/fine_tuning/jobs/ftjob-1/events" for r in seen)
    seen.clear()
    assert [e.id for e in reader.list_events("ftjob-1", limit=2)] == ["ev-3", "ev-2"]
    assert len(seen) == 2 and seen[0].url.params["limit"] == "2"


def test_the_client_is_made_at_the_first_request_and_a_closed_transport_sends_nothing() -> None:
    sent: list[str] = []

    def answer(request: httpx.Request) -> httpx.Response:
        sent.append(request.url.path)
        return httpx.Response(200, json={"data": []})

    target = Target("https://api.example/v1", "k")
    transport = Transport(target)
    assert transport._http is None  # nothing built for a command that sends nothing
    transport._http = httpx.Client(base_url=target.base_url + "/", transport=httpx.MockTransport(answer))
    assert transport.once("GET", "files") == {"data": []} and sent == ["/v1/files"]
    transport.close()
    with pytest.raises(ApiError) as closed:
        transport.once("GET", "files")  # a read left running on its thread when the command ended
    assert closed.value.status == 0 and sent == ["/v1/files"]
