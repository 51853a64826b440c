"""The one copy loop of the sandbox's uploads (``sandbox/blobs.py``): sources in order, a limit, digests,
and nothing left behind by a copy that does not finish; and the upload routes that use it."""

from __future__ import annotations

import hashlib
import io
from pathlib import Path
from typing import BinaryIO

import httpx
import pytest

from reconciler.sandbox.blobs import CHUNK, TooLarge, copy_into, opened
from reliability.sandbox import SandboxProcess


def test_sources_are_copied_in_order_through_every_digest(tmp_path: Path) -> None:
    parts = [b"a" * (CHUNK + 1), b"", b"b" * 10]
    sha, md5 = hashlib.sha256(), hashlib.md5(usedforsecurity=False)
    size = copy_into(tmp_path / "blob", [io.BytesIO(p) for p in parts], digests=[sha, md5])
    whole = b"".join(parts)
    assert size == len(whole) and (tmp_path / "blob").read_bytes() == whole
    assert (sha.hexdigest(), md5.hexdigest()) == (hashlib.sha256(whole).hexdigest(),
                                                  hashlib.md5(whole, usedforsecurity=False).hexdigest())


def test_files_on_disk_are_read_one_after_the_other(tmp_path: Path) -> None:
    for name in "xy":
        (tmp_path / name).write_bytes(name.encode() * 3)
    assert copy_into(tmp_path / "blob", opened([tmp_path / "x", tmp_path / "y"])) == 6
    assert (tmp_path / "blob").read_bytes() == b"xxxyyy"


def test_a_copy_of_exactly_the_limit_passes_and_one_byte_more_leaves_nothing(tmp_path: Path) -> None:
    assert copy_into(tmp_path / "ok", [io.BytesIO(b"12345")], limit=5) == 5
    with pytest.raises(TooLarge):
        copy_into(tmp_path / "big", [io.BytesIO(b"123"), io.BytesIO(b"456")], limit=5)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["ok"]


class Broken(io.BytesIO):
    """A stream that fails after its first chunk, as a client that goes away mid-upload."""

    def __init__(self) -> None:
        super().__init__(b"x" * (2 * CHUNK))
        self.reads = 0

    def read(self, size: int | None = -1, /) -> bytes:
        self.reads += 1
        if self.reads > 1:
            raise ConnectionResetError("the client went away")
        return super().read(size)


def test_a_copy_that_fails_midway_leaves_no_partial_blob(tmp_path: Path) -> None:
    source: BinaryIO = Broken()
    with pytest.raises(ConnectionResetError):
        copy_into(tmp_path / "blob", [source])
    assert list(tmp_path.iterdir()) == []


def _upload(sandbox: SandboxProcess, data: bytes, md5: str) -> httpx.Response:
    headers = {"Authorization": "Bearer k"}
    made = httpx.post(f"{sandbox.url}/uploads", headers=headers, json={
        "filename": "t.jsonl", "purpose": "fine-tune", "bytes": len(data), "mime_type": "application/jsonl"}).json()
    part = httpx.post(f"{sandbox.url}/uploads/{made['id']}/parts", headers=headers,
                      files={"data": ("blob", data)}).json()
    return httpx.post(f"{sandbox.url}/uploads/{made['id']}/complete", headers=headers,
                      json={"part_ids": [part["id"]], "md5": md5})


def test_an_upload_is_completed_only_when_its_md5_matches(sandbox: SandboxProcess) -> None:
    data = b'{"a": 1}\n' * 1000
    wrong = _upload(sandbox, data, "0" * 32)
    assert wrong.status_code == 400 and wrong.json()["error"] == {
        "message": "md5 does not match the uploaded bytes.", "type": "invalid_request_error", "param": "md5",
        "code": "invalid_value"}
    assert sandbox.listing("files") == []
    right = _upload(sandbox, data, hashlib.md5(data, usedforsecurity=False).hexdigest())
    assert right.status_code == 200 and right.json()["status"] == "completed"
    file_id = right.json()["file"]["id"]
    assert [f["id"] for f in sandbox.listing("files")] == [file_id]
    assert httpx.get(f"{sandbox.url}/files/{file_id}/content", headers={"Authorization": "Bearer k"}).content == data
