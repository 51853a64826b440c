"""A project directory in which the real ``ftctl`` CLI is run against a sandbox server."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import httpx

from tests.conftest import SandboxProcess

SECRET = "sk-e2e-0123456789-SECRET"
MANIFEST = """\
name: bot
model: gpt-4o-mini
training_file: data/train.jsonl
method:
  type: supervised
  hyperparameters:
    n_epochs: {epochs}
suffix: e2e
state: {state}
metadata:
  team: e2e
"""


class Workspace:
    def __init__(self, root: Path, sandbox: SandboxProcess) -> None:
        self.root = root
        self.sandbox = sandbox
        self.outputs: list[str] = []

    def write(self, epochs: int = 3, state: str = "active") -> None:
        (self.root / "manifests" / "bot.yaml").write_text(MANIFEST.format(epochs=epochs, state=state))

    def env(self, key: str | None = SECRET) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items()
               if k not in ("OPENAI_API_KEY", "AZURE_OPENAI_API_KEY") and not k.startswith("FTCTL_")}
        env.update({"NO_COLOR": "1", "OPENAI_BASE_URL": self.sandbox.url, "FTCTL_LOG": "info"})
        if key:
            env["OPENAI_API_KEY"] = key
        return env

    def ftctl(self, *args: str, key: str | None = SECRET, stdin: str = "",
              cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
        done = subprocess.run([sys.executable, "-m", "reconciler", *args], cwd=cwd or self.root, env=self.env(key),
                              input=stdin, capture_output=True, text=True, timeout=120)
        self.outputs += [done.stdout, done.stderr]
        return done

    def jobs(self, sandbox: SandboxProcess | None = None) -> list[dict[str, object]]:
        response = httpx.get(f"{(sandbox or self.sandbox).url}/fine_tuning/jobs",
                             params={"metadata[ftctl-name]": "bot"}, headers={"Authorization": "Bearer x"})
        return list(response.json()["data"])


def uploads(sandbox: SandboxProcess) -> list[dict[str, object]]:
    return list(httpx.get(f"{sandbox.url}/files", headers={"Authorization": "Bearer x"}).json()["data"])
