"""A job made the way another team's script would make it: plain HTTP, no ftctl tags.

Usage: python3 legacy_job.py API_BASE  (key from OPENAI_API_KEY); prints the job's ID.
"""

from __future__ import annotations

import json
import os
import sys
import urllib.request
import uuid
from pathlib import Path

BASE = sys.argv[1].rstrip("/")
HEADERS = {"Authorization": f"Bearer {os.environ['OPENAI_API_KEY']}"}
DATA = Path(__file__).resolve().parents[2] / "manifests" / "data" / "support" / "train.jsonl"


def post(path: str, body: bytes, content_type: str) -> dict[str, object]:
    request = urllib.request.Request(f"{BASE}/{path}", data=body, method="POST",
                                     headers={**HEADERS, "Content-Type": content_type})
    with urllib.request.urlopen(request) as answer:
        return dict(json.load(answer))


boundary = uuid.uuid4().hex
form = (f"--{boundary}\r\nContent-Disposition: form-data; name=\"purpose\"\r\n\r\nfine-tune\r\n"
        f"--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"train.jsonl\"\r\n"
        "Content-Type: application/jsonl\r\n\r\n").encode() + DATA.read_bytes() + f"\r\n--{boundary}--\r\n".encode()
upload = post("files", form, f"multipart/form-data; boundary={boundary}")
job = post("fine_tuning/jobs", json.dumps({
    "model": "gpt-4o-mini", "training_file": upload["id"], "suffix": "legacy", "seed": 7,
    "method": {"type": "supervised", "supervised": {"hyperparameters": {"n_epochs": 2}}},
}).encode(), "application/json")
print(job["id"])
