"""Projects in which the real ``ftctl`` CLI runs against a sandbox server (``reliability/sandbox.py``).

Every project starts alike (``new_project``): ``.git`` marks its root, and the repository's supervised
training data lies in ``FOLDER/data/train.jsonl``. Two shapes are built on it:

* ``Workspace`` (the ``ws`` fixture): one manifest, ``bot``, in ``manifests/``; ftctl finds the
  sandbox through ``OPENAI_BASE_URL`` and runs with a key, and every output is kept (a test searches
  them for the key);
* ``Project``: manifests of any name, model and state in ``m/``; the folder and ``--api-base`` are
  given on each command line, the key in the provider's variable, as CI runs ftctl against a provider.

``run_while_time_passes`` runs a command while it moves a sandbox's manual clock.
"""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from reliability.sandbox import SandboxProcess, clean_env

TRAIN = Path(__file__).resolve().parent.parent / "manifests" / "data" / "support" / "train.jsonl"
SECRET = "sk-e2e-0123456789-SECRET"
KEY = "azure-key-0123456789"


def new_project(root: Path, folder: str) -> Path:
    """``root`` as a repository with ``FOLDER/data/train.jsonl``; returns the manifests' folder."""
    (root / ".git").mkdir(parents=True)
    (root / folder / "data").mkdir(parents=True)
    (root / folder / "data" / "train.jsonl").write_bytes(TRAIN.read_bytes())
    return root / folder


def run_ftctl(args: list[str], cwd: Path, env: dict[str, str], stdin: str = "",
              timeout: float = 180) -> subprocess.CompletedProcess[str]:
    """``ftctl ARGS`` as a user runs it (``python -m reconciler``), its output captured."""
    return subprocess.run([sys.executable, "-m", "reconciler", *args], cwd=cwd, env=env, input=stdin,
                          capture_output=True, text=True, timeout=timeout)


WORKSPACE_MANIFEST = """\
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

    @classmethod
    def create(cls, root: Path, sandbox: SandboxProcess, epochs: int = 3) -> Workspace:
        new_project(root, "manifests")
        made = cls(root, sandbox)
        made.write(epochs)
        return made

    def write(self, epochs: int = 3, state: str = "active") -> None:
        (self.root / "manifests" / "bot.yaml").write_text(WORKSPACE_MANIFEST.format(epochs=epochs, state=state))

    def env(self, key: str | None = SECRET) -> dict[str, str]:
        """The environment ftctl runs in: ``clean_env``, the sandbox as the API base, the key (if any)."""
        return clean_env(OPENAI_BASE_URL=self.sandbox.url, FTCTL_LOG="info", **({"OPENAI_API_KEY": key} if key else {}))

    def ftctl(self, *args: str, key: str | None = SECRET, stdin: str = "",
              cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
        done = run_ftctl(list(args), cwd or self.root, self.env(key), stdin, timeout=120)
        self.outputs += [done.stdout, done.stderr]
        return done

    def jobs(self, sandbox: SandboxProcess | None = None) -> list[dict[str, Any]]:
        """The jobs of ``bot``, newest first (on this workspace's sandbox, or another)."""
        return (sandbox or self.sandbox).listing("fine_tuning/jobs", **{"metadata[ftctl-name]": "bot"})


PROJECT_MANIFEST = """\
name: {name}
model: {model}
training_file: data/train.jsonl
method: {{type: supervised, hyperparameters: {{n_epochs: {epochs}}}}}
suffix: s-{name}
state: {state}
"""


class Project:
    def __init__(self, root: Path, server: SandboxProcess, *flags: str, key_variable: str = "OPENAI_API_KEY") -> None:
        self.root, self.server, self.flags = root, server, flags
        self.key = {key_variable: KEY}
        self.manifests = new_project(root, "m")

    def write(self, *names: str, epochs: int = 3, state: str = "active", model: str = "gpt-4.1-mini",
              extra: str = "") -> None:
        """A manifest of each name (``m/NAME.yaml``), all alike but for the name and suffix."""
        for name in names:
            (self.manifests / f"{name}.yaml").write_text(
                PROJECT_MANIFEST.format(name=name, epochs=epochs, state=state, model=model) + extra)

    def ftctl(self, *args: str, paths: bool = True) -> subprocess.CompletedProcess[str]:
        """``ftctl ARGS [m] --api-base URL FLAGS…`` with the key: ``paths`` puts the manifests' folder after
        the args (leave it out for commands whose arguments are names or job IDs)."""
        return run_ftctl([*args, *(["m"] if paths else []), "--api-base", self.server.url, *self.flags], self.root,
                         clean_env(**self.key))

    def jobs(self) -> list[dict[str, Any]]:
        return self.server.listing("fine_tuning/jobs")

    def statuses(self) -> dict[str, list[str]]:
        """Per manifest name, the statuses of its jobs, newest first."""
        out: dict[str, list[str]] = {}
        for job in self.jobs():
            out.setdefault((job.get("metadata") or {}).get("ftctl-name", "?"), []).append(job["status"])
        return out


def run_while_time_passes(server: SandboxProcess, args: list[str], cwd: Path, step: float, every: float = 0.2,
                          limit: float = 90) -> subprocess.CompletedProcess[str]:
    """Run ftctl (with the key), advancing the sandbox's manual clock by ``step`` seconds ``every``
    seconds until it exits (or ``limit`` seconds have passed)."""
    run = subprocess.Popen([sys.executable, "-m", "reconciler", *args], cwd=cwd, env=clean_env(OPENAI_API_KEY=KEY),
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + limit
    while run.poll() is None and time.monotonic() < deadline:
        time.sleep(every)
        server.advance(step)
    out, err = run.communicate(timeout=30)
    return subprocess.CompletedProcess(args, run.returncode, out, err)
