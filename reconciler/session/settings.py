"""One ``Settings`` object, built by the CLI from flags, environment, ``ftctl.yaml`` and defaults,
passed down.

Precedence is flag > environment > ftctl.yaml > default (SPEC §4, §8). Nothing below the CLI reads ``os.environ``:
what ftctl depends on is visible in one place, tests pass their own environment, and a bad value of
an ``FTCTL_*`` variable is one clear error naming the variable. Each value remembers where it came
from, so that ``apply PLANFILE`` can refuse a target given on the command line that is not the
plan's, while ignoring what the environment would pick.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import date
from pathlib import Path
from typing import Literal

from reconciler.clock import SYSTEM, Clock
from reconciler.datasets.tokens import cache_folder
from reconciler.diagnostics import SetupError as SetupError  # re-exported: where settings go wrong
from reconciler.diagnostics import UsageProblem as UsageProblem
from reconciler.lifecycle import Table as LifecycleTable
from reconciler.lifecycle import builtin, merged
from reconciler.manifests.model import NAME_PATTERN
from reconciler.project import find_root
from reconciler.providers import PROVIDERS, Provider, detect
from reconciler.session.config import load_config

Source = Literal["flag", "env", "config", "default", "plan"]
DEFAULT_API_BASE = "https://api.openai.com/v1"
DEFAULT_STACK = "default"
SANDBOX_DB = ".ftctl/sandbox.db"


@dataclass(frozen=True)
class Settings:
    root: Path
    stack: str = DEFAULT_STACK
    stack_from: Source = "default"
    sandbox: bool = False
    api_base: str = DEFAULT_API_BASE
    api_base_from: Source = "default"
    sandbox_db: Path = Path(SANDBOX_DB)
    sandbox_speed: float = 1.0
    provider: str | None = None
    """``--provider`` or ``FTCTL_PROVIDER``; None: detected from the API base."""
    max_active_jobs: int | None = None
    """``FTCTL_MAX_ACTIVE_JOBS``, else the config's ``limits.max_active_jobs``."""
    max_active_jobs_from: str = ""
    """Which of the two, in the words a user wrote it."""
    max_cost_usd: float | None = None
    """The config's ``limits.max_cost_usd``: the budget of a plan's new training."""
    paths: tuple[Path, ...] = ()
    """The config's ``paths`` (resolved): where manifests are when no path is given."""
    offline: bool = False
    """Built for ``validate``: no target; the provider's limits apply only when one is named."""
    prices: Path | None = None
    prices_from: str = ""
    """Where the price table's path came from, for messages (``--prices`` or ``FTCTL_PRICES``)."""
    token_cache: Path | None = None
    """tiktoken's cache folder, or None to estimate tokens (``FTCTL_TOKENS=estimate``)."""
    extra_models: frozenset[str] = frozenset()
    """Models to accept beyond ftctl's catalog (``FTCTL_EXTRA_MODELS``, comma-separated)."""
    today: date | None = None
    """``FTCTL_TODAY``: the date to take for today (lifecycle dates), else the clock's."""
    lifecycle: LifecycleTable = field(default_factory=LifecycleTable)
    """ftctl's lifecycle table with ftctl.yaml's ``lifecycle:`` entries added."""
    azure_training_type: str | None = None
    """ftctl.yaml's ``target.azure.training_type``."""
    openai_key: str | None = field(default=None, repr=False)
    azure_key: str | None = field(default=None, repr=False)
    azure_ad_token: str | None = field(default=None, repr=False)
    """``AZURE_OPENAI_AD_TOKEN``: a Microsoft Entra ID token, sent as a bearer token to Azure OpenAI."""

    @property
    def profile(self) -> Provider:
        """What the target is: the provider named, else the one the API base says."""
        return PROVIDERS[self.provider] if self.provider else detect(self.api_base)

    @property
    def clock(self) -> Clock:
        return replace(SYSTEM, fixed_today=self.today) if self.today else SYSTEM

    @property
    def lifecycle_key(self) -> str | None:
        """Whose dates apply: the target's provider; none for the embedded sandbox, and none for
        ``validate`` unless a provider is named (flag, environment or ftctl.yaml)."""
        if self.sandbox:
            return "sandbox"
        if self.offline and not self.provider:
            return None
        return self.profile.name

    @property
    def api_base_source(self) -> str:
        """Where the base URL came from, in the words a user typed it."""
        return {"flag": "--api-base", "env": "OPENAI_BASE_URL", "config": "ftctl.yaml's target.api_base",
                "default": "the default base URL", "plan": "the saved plan"}[self.api_base_from]

    @property
    def target_from_flags(self) -> bool:
        return self.sandbox or self.api_base_from == "flag"

    def with_target(self, sandbox: bool, api_base: str | None, sandbox_db: Path | None,
                    provider: str | None = None) -> Settings:
        """The target a saved plan names (``api_base_from`` says so, for messages)."""
        return replace(self, sandbox=sandbox, api_base=api_base or self.api_base, api_base_from="plan",
                       sandbox_db=sandbox_db or self.sandbox_db,
                       provider=provider if provider in PROVIDERS else self.provider)




def duration(text: str, where: str = "--timeout") -> float:
    """``90``, ``90s``, ``30m``, ``2h``, ``1h30m`` → seconds."""
    parts = re.fullmatch(r"\s*(?:(\d+(?:\.\d+)?)h)?\s*(?:(\d+(?:\.\d+)?)m)?\s*(?:(\d+(?:\.\d+)?)s?)?\s*", text)
    if not text.strip() or parts is None:
        raise UsageProblem(f"{where} {text!r}: give a duration such as 90s, 30m, 2h or 1h30m")
    hours, minutes, seconds = (float(p) if p else 0.0 for p in parts.groups())
    return hours * 3600 + minutes * 60 + seconds


def poll_interval(text: str, settings: Settings) -> float:
    """``--poll-interval`` in seconds: each poll is a request, so at least a second against a remote API
    (its rate limits count them); the sandbox on this machine may be polled more often."""
    from reconciler.api.urls import is_loopback

    every = duration(text, "--poll-interval")
    local = settings.sandbox or is_loopback(settings.api_base)
    floor = 0.05 if local else 1.0
    if every < floor:
        raise UsageProblem(f"--poll-interval {text!r}: at least {floor:g}s" +
                           ("" if local else " against a remote API (each poll is a request, counted by its rate "
                                             "limits)"))
    return every


def _stack(value: str, where: str) -> str:
    if not re.fullmatch(NAME_PATTERN, value):
        raise SetupError(f"{where}={value!r} is not a valid stack name: use 1-63 lowercase letters, digits and "
                         "'-', starting and ending with a letter or digit")
    return value


def _positive(value: str, where: str) -> int:
    text = value.strip()
    if not (text.isascii() and text.isdecimal()) or int(text) < 1:
        raise SetupError(f"{where}={value!r} must be a whole number of at least 1")
    return int(text)


def sandbox_speed(value: str) -> float:
    try:
        speed = float(value)
    except ValueError:
        speed = 0.0
    if not speed > 0 or speed == float("inf"):
        raise SetupError(f"FTCTL_SANDBOX_SPEED={value!r} must be a number greater than 0")
    return speed


def _today(value: str) -> date:
    try:
        return date.fromisoformat(value.strip())
    except ValueError:
        raise SetupError(f"FTCTL_TODAY={value!r} must be a date written YYYY-MM-DD") from None


def _provider(value: str | None, where: str) -> str | None:
    if value is not None and value not in PROVIDERS:
        raise SetupError(f"{where}={value!r} must be one of {', '.join(PROVIDERS)}")
    return value


def build(env: Mapping[str, str], cwd: Path, *, stack: str | None = None, sandbox: bool = False,
          api_base: str | None = None, prices: str | None = None, offline: bool = False,
          provider: str | None = None) -> Settings:
    """Settings from command-line values (None when not given) and the environment ``env``.
    ``offline`` (validate): the variables of the target and the stack are not used, so not checked."""
    if offline:
        env = {k: v for k, v in env.items()
               if k not in ("FTCTL_STACK", "FTCTL_SANDBOX_SPEED", "OPENAI_BASE_URL", "FTCTL_MAX_ACTIVE_JOBS")}
    chosen_provider = _provider(provider, "--provider") or _provider(env.get("FTCTL_PROVIDER") or None,
                                                                    "FTCTL_PROVIDER")
    if sandbox and provider:
        raise UsageProblem("--sandbox and --provider: the embedded sandbox speaks OpenAI's dialect; to try "
                           "another, run `ftctl sandbox serve --flavor azure` and point --api-base at it")
    root = find_root(cwd, cwd)
    config, config_path = load_config(root)
    if sandbox and api_base:
        raise UsageProblem("--sandbox and --api-base choose two different targets; give one of them")
    stack_from: Source
    base_from: Source
    if stack is not None:
        chosen_stack, stack_from = _stack(stack, "--stack"), "flag"
    elif env.get("FTCTL_STACK") is not None:
        chosen_stack, stack_from = _stack(env["FTCTL_STACK"], "FTCTL_STACK"), "env"
    elif config.stack is not None and not offline:
        chosen_stack, stack_from = config.stack, "config"
    else:
        chosen_stack, stack_from = DEFAULT_STACK, "default"
    if api_base:
        base, base_from = api_base, "flag"
    elif env.get("OPENAI_BASE_URL"):
        base, base_from = env["OPENAI_BASE_URL"], "env"
    elif config.target.api_base and not offline:
        base, base_from = config.target.api_base, "config"
    else:
        base, base_from = DEFAULT_API_BASE, "default"
    base = base.rstrip("/")  # https://x/v1/ and https://x/v1 are one target
    if chosen_provider is None and (offline or base_from == "config" or config.target.api_base is None):
        chosen_provider = config.target.provider  # it describes ftctl.yaml's target, not one given elsewhere
    if chosen_provider is None and offline and config.target.api_base:  # validate: ftctl.yaml's target, detected
        chosen_provider = detect(config.target.api_base.rstrip("/")).name
    tokens = env.get("FTCTL_TOKENS", "auto")
    if tokens not in ("auto", "estimate"):
        raise SetupError(f"FTCTL_TOKENS={tokens!r} must be 'auto' (count exactly when tiktoken's encoding is "
                         "cached) or 'estimate'")
    db = env.get("FTCTL_SANDBOX_DB") or SANDBOX_DB
    prices_path = prices or env.get("FTCTL_PRICES") or None
    prices_from = "--prices" if prices else "FTCTL_PRICES"
    return Settings(
        root=root, stack=chosen_stack, stack_from=stack_from, sandbox=sandbox, api_base=base,
        api_base_from=base_from, sandbox_db=root / db if not Path(db).is_absolute() else Path(db),
        sandbox_speed=sandbox_speed(env["FTCTL_SANDBOX_SPEED"]) if env.get("FTCTL_SANDBOX_SPEED") else 1.0,
        provider=None if sandbox else chosen_provider, offline=offline,
        max_active_jobs=_positive(env["FTCTL_MAX_ACTIVE_JOBS"], "FTCTL_MAX_ACTIVE_JOBS")
        if env.get("FTCTL_MAX_ACTIVE_JOBS") else config.limits.max_active_jobs,
        max_active_jobs_from="FTCTL_MAX_ACTIVE_JOBS" if env.get("FTCTL_MAX_ACTIVE_JOBS")
        else "limits.max_active_jobs (ftctl.yaml)",
        max_cost_usd=config.limits.max_cost_usd,
        paths=tuple(config_path.parent / p for p in config.paths) if config_path and config.paths else (),
        prices=Path(prices_path) if prices_path else None, prices_from=prices_from,
        token_cache=cache_folder(env) if tokens == "auto" else None,
        extra_models=frozenset(m.strip() for m in env.get("FTCTL_EXTRA_MODELS", "").split(",") if m.strip()),
        today=_today(env["FTCTL_TODAY"]) if env.get("FTCTL_TODAY") else None,
        lifecycle=merged(builtin(), config.lifecycle),
        azure_training_type=config.target.azure.training_type,
        openai_key=env.get("OPENAI_API_KEY") or None, azure_key=env.get("AZURE_OPENAI_API_KEY") or None,
        azure_ad_token=env.get("AZURE_OPENAI_AD_TOKEN") or None)


DEFAULT_PATHS = ("manifests",)


def manifest_paths(paths: tuple[str, ...], settings: Settings, cwd: Path) -> list[Path]:
    """The paths given, else ftctl.yaml's ``paths``, else ``manifests`` at the project root (so that
    a command run from a subdirectory reads the same manifests)."""
    if paths:
        return [Path(p) for p in paths]
    if settings.paths:
        return list(settings.paths)
    if cwd.resolve() == settings.root.resolve():
        return [Path(p) for p in DEFAULT_PATHS]
    return [settings.root / p for p in DEFAULT_PATHS]
