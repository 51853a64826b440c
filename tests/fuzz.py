"""A property-based fuzzer of the sandbox: schemathesis generates requests for every operation of
OpenAI's vendored description (tests/openai-spec/, normalised by ``tests.openapi_normalise``) —
conforming ones and, as often, ones that break it — sends them to a real sandbox server and checks
each answer: no server error, a request that breaks the description refused with a 4xx, an answer
that conforms to the description (a JSON error body included).

Seeded, so a run is the same requests every time. The sandbox's admin routes are not in the
description and so never fuzzed; faults and latency stay off (a fresh server has none). Conforming
requests alone would rarely meet a file or a job that exists; some of them are pointed at ones the
run made before each operation, so the write paths (a job created, cancelled; a file deleted) are reached.

``python -m tests.fuzz --examples N`` (``make fuzz``) runs it longer and prints its counts.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import random
import re
import sys
import tempfile
from collections import Counter
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import httpx
import schemathesis
import yaml
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import seed as seeded
from hypothesis.errors import Unsatisfiable
from schemathesis import Case, GenerationMode
from schemathesis.checks import (
    content_type_conformance,
    negative_data_rejection,
    not_a_server_error,
    response_schema_conformance,
)
from schemathesis.core import NOT_SET
from schemathesis.core.failures import FailureGroup
from schemathesis.core.result import Ok

from reliability.sandbox import KEY, SandboxProcess
from tests.openapi import SPEC
from tests.openapi_normalise import normalise

CHECKS = [not_a_server_error, negative_data_rejection, response_schema_conformance, content_type_conformance]
TRAIN = Path(__file__).resolve().parent.parent / "manifests" / "data" / "support" / "train.jsonl"


@dataclass
class Finding:
    operation: str
    mode: str
    status: int
    failure: str
    request: str


@dataclass
class Tally:
    requests: Counter[str] = field(default_factory=Counter)
    """Requests sent per ``"METHOD /path mode"``."""
    answers: Counter[tuple[str, str]] = field(default_factory=Counter)
    """Answers per operation and class (``2xx``, ``4xx``, ``5xx``): how far the requests reached."""
    findings: list[Finding] = field(default_factory=list)
    unsendable: Counter[str] = field(default_factory=Counter)
    """Breaking requests whose break cannot reach the wire, per operation: not sent (``_unsendable``),
    or sent and accepted as what they read as (``_query_conforms``)."""

    def report(self) -> str:
        def classes(label: str) -> str:
            return ", ".join(f"{c} {self.answers[label, c]}" for c in ("2xx", "4xx", "5xx") if self.answers[label, c])

        lines = [f"{n:6d}  {label:<62} {classes(label)}" for label, n in sorted(self.requests.items())]
        lines.append(f"{sum(self.requests.values()):6d}  requests in all, {len(self.findings)} failures")
        if self.unsendable:
            lost = ", ".join(f"{k}: {n}" for k, n in sorted(self.unsendable.items()))
            lines.append(f"{sum(self.unsendable.values()):6d}  breaking requests, their break lost in transit ({lost})")
        lines += [f"FAIL {f.operation} ({f.mode}) -> {f.status}: {f.failure}\n     {f.request}" for f in self.findings]
        return "\n".join(lines)


@cache
def description() -> dict[str, Any]:
    return normalise(yaml.safe_load(SPEC.read_text()))


def _known(server: SandboxProcess, paused: bool = False) -> dict[str, str]:
    """A file, a running job (``paused``: a paused one) and an upload with one part, that the
    fuzzer's conforming requests may point at."""
    headers = {"Authorization": f"Bearer {KEY}"}
    with httpx.Client(base_url=server.url, headers=headers, timeout=30) as http:
        file_id = http.post("/files", files={"file": ("train.jsonl", io.BytesIO(TRAIN.read_bytes()))},
                            data={"purpose": "fine-tune"}).json()["id"]
        job = http.post("/fine_tuning/jobs", json={"model": "gpt-4o-mini", "training_file": file_id}).json()["id"]
        server.advance(60)  # past validating and queued: running, so that pause (and resume) can be reached
        if paused:
            http.post(f"/fine_tuning/jobs/{job}/pause").raise_for_status()
        upload = http.post("/uploads", json={"filename": "a.jsonl", "purpose": "fine-tune", "bytes": 10,
                                             "mime_type": "text/jsonl"}).json()["id"]
        part = http.post(f"/uploads/{upload}/parts", files={"data": ("p", io.BytesIO(b"0123456789"))}).json()["id"]
    return {"file_id": file_id, "fine_tuning_job_id": job, "upload_id": upload, "part_id": part}


def _aim(case: Case[Any], known: dict[str, str], rng: random.Random) -> None:
    """Point a conforming request at things that exist, half of the time."""
    if rng.random() < 0.5:
        return
    for name in case.path_parameters or {}:
        if name in known:
            case.path_parameters[name] = known[name]
    if isinstance(case.body, dict) and "training_file" in case.body:
        case.body["training_file"] = known["file_id"]
        case.body["model"] = "gpt-4o-mini"
    if isinstance(case.body, dict) and "part_ids" in case.body:
        case.body["part_ids"] = [known["part_id"]]
        case.body.pop("md5", None)


def _unsendable(case: Case[Any]) -> bool:
    """Whether a breaking body cannot be sent as one: an empty array in a multipart form sends no
    part at all (``expires_after: []``), and the form reads as a conforming one."""
    return isinstance(case.body, dict) and case.media_type == "multipart/form-data" \
        and any(value == [] for value in case.body.values())


def _query_conforms(method: str, path: str, url: str) -> bool:
    """Whether the query a request sent (``url``) conforms to the description, read as the server
    reads it: a query is text, so a breaking value (``metadata[k]`` given null, a number, a nested
    list that flattens to one string) often arrives as a conforming one."""
    spec = description()["paths"][path][method.lower()].get("parameters", [])
    params = {p["name"]: p for p in spec if p.get("in") == "query"}
    for key, value in parse_qsl(urlsplit(url).query, keep_blank_values=True):
        deep = re.fullmatch(r"(\w+)\[(.*)\]", key)
        if deep:
            if deep.group(1) not in params or not 1 <= len(deep.group(2)) <= 64 or set(deep.group(2)) & set("[]"):
                return False
            continue
        schema = params[key]["schema"] if key in params else {}
        if schema.get("type") == "integer" and not re.fullmatch(r"-?[0-9]+", value):
            return False
        if "enum" in schema and value not in schema["enum"]:
            return False
        if "anyOf" in schema and value != "null":  # the metadata filter: an object (deep), or null
            return False
    return True


def fuzz(server: SandboxProcess, examples: int, seed: int = 0) -> Tally:
    """``examples`` conforming and ``examples`` breaking requests per operation (fewer where the
    description leaves no room to break a request)."""
    schema = schemathesis.openapi.from_dict(description())
    headers = {"Authorization": f"Bearer {KEY}"}
    known: dict[str, str] = {}
    rng = random.Random(seed)
    tally = Tally()

    def send(case: Case[Any], mode: GenerationMode, label: str) -> None:
        if mode is GenerationMode.POSITIVE:
            _aim(case, known, rng)
        elif _unsendable(case):
            tally.unsendable[label] += 1
            return
        response = case.call(base_url=server.url, headers=headers, timeout=30)
        tally.requests[label] += 1
        tally.answers[label, f"{response.status_code // 100}xx"] += 1
        try:
            case.validate_response(response, checks=CHECKS, headers=headers)
        except (AssertionError, FailureGroup) as exc:
            if mode is GenerationMode.NEGATIVE and response.status_code < 400 and case.body is NOT_SET \
                    and _query_conforms(case.method, case.path, response.request.url or ""):
                tally.unsendable[label] += 1  # its break was lost on the wire: it reads as a conforming one
                return
            tally.findings.append(Finding(label, mode.value, response.status_code, str(exc)[:600],
                                          case.as_curl_command(headers, base_url=server.url)))

    for result in schema.get_all_operations():
        assert isinstance(result, Ok), result.err()  # the vendored description is a valid one
        operation = result.ok()
        # afresh: the operation before may have deleted or cancelled them
        known.update(_known(server, paused=operation.path.endswith("/resume")))
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
            test = settings(max_examples=examples, database=None, deadline=None, phases=[Phase.generate],
                            suppress_health_check=list(HealthCheck))(
                seeded(seed)(given(case=operation.as_strategy(generation_mode=mode))(
                    _bound(send, mode, f"{operation.label} {mode.value}"))))
            with contextlib.suppress(Unsatisfiable):  # nothing here can break the description: a path's string
                test()
    return tally


def _bound(send: Any, mode: GenerationMode, label: str) -> Any:
    """A test of one case for ``@given`` (which takes no function with defaults)."""
    def one(case: Case[Any]) -> None:
        send(case, mode, label)
    return one


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.fuzz", description=__doc__.split("\n\n")[0])
    parser.add_argument("--examples", type=int, default=400, help="requests per operation and mode")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp, SandboxProcess(Path(tmp) / "fuzz.db") as server:
        tally = fuzz(server, args.examples, args.seed)
        print(tally.report())
        traceback = "Traceback" in server.output
    if traceback:
        print("the sandbox printed a traceback")
    return 1 if tally.findings or traceback else 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
