"""Target selection: the embedded sandbox or a remote API, and the connection to it.

A remote target needs a key from the environment (but a service without authentication: OPEA's);
without one ftctl explains ``--sandbox`` and never falls back to it silently. A ``Connection`` hands
out a retrying reader (for plan and status), a reader that does not retry and a writer (for the
applier, which retries whole steps), in the dialect the provider speaks: OpenAI's (``api.client``) or
OPEA's (``api.opea``).
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from dataclasses import dataclass

from reconciler import logs
from reconciler.api.client import Reader, Target, Transport, Writer
from reconciler.api.opea import OpeaReader, OpeaWriter
from reconciler.api.ports import ApiReader, ApiWriter
from reconciler.api.retry import NO_RETRY
from reconciler.api.urls import check_base_url
from reconciler.plan.facts import TargetInfo
from reconciler.project import relative
from reconciler.providers import OPENAI, Provider
from reconciler.session.settings import Settings, SetupError


def target_info(settings: Settings) -> TargetInfo:
    if settings.sandbox:
        return TargetInfo(provider="sandbox", sandbox_db=relative(settings.sandbox_db, settings.root))
    return TargetInfo(provider=settings.profile.name, api_base=settings.api_base)


def remote_target(settings: Settings) -> Target:
    base = settings.api_base
    problem = check_base_url(base)
    if problem:
        raise SetupError(f"{settings.api_base_source} {base!r}: {problem}")
    profile = settings.profile
    azure = profile.name == "azure"
    key, other = (settings.azure_key, settings.openai_key) if azure else (settings.openai_key, settings.azure_key)
    wanted, unset = ("AZURE_OPENAI_API_KEY", "OPENAI_API_KEY") if azure else ("OPENAI_API_KEY", "AZURE_OPENAI_API_KEY")
    token = (settings.azure_ad_token or _entra_token()) if azure and not key else None
    if key:
        target = Target(base, key, profile, label=base)
    elif token:  # many organisations disable keys: a Microsoft Entra ID token instead
        target = Target(base, token, profile, label=base, bearer=True)
    elif not profile.needs_key:  # a service without authentication: nothing to send
        target = Target(base, "", profile, label=base)
    elif other:  # the other provider's key: say which variable this target reads, before sending anything
        how = "(--provider, FTCTL_PROVIDER or ftctl.yaml)" if settings.provider else "(from its URL)"
        instead = "openai or compatible" if azure else "azure"
        raise SetupError(f"{base} is treated as {profile.name} {how}, which takes its key from {wanted}; that is "
                         f"not set, but {unset} is: set {wanted}, or give --provider {instead} if the target "
                         "is that instead")
    elif settings.api_base_from == "plan":
        raise SetupError(f"no API key for {base}, the target of this saved plan: set {KEYS}")
    else:
        raise SetupError(f"no API key for {base}: set {KEYS}, or use --sandbox to run against the embedded sandbox "
                         "(no key, no network needed)")
    logs.add_secret(target.key)
    return target


ENTRA_SCOPE = "https://cognitiveservices.azure.com/.default"
KEYS = ("OPENAI_API_KEY (or AZURE_OPENAI_API_KEY for Azure OpenAI, or a Microsoft Entra ID token in "
        "AZURE_OPENAI_AD_TOKEN)")


def _entra_token() -> str | None:
    """A token from azure-identity's ``DefaultAzureCredential`` when that optional extra is installed
    (``pip install 'ftctl[azure]'``) and finds a credential; else None."""
    try:
        from azure.identity import DefaultAzureCredential  # type: ignore[import-not-found,unused-ignore]
    except ImportError:
        return None
    try:
        return str(DefaultAzureCredential().get_token(ENTRA_SCOPE).token)
    except Exception:  # no credential on this machine: the usual message about keys follows
        return None


@dataclass
class Connection:
    info: TargetInfo
    transport: Transport

    @property
    def provider(self) -> Provider:
        """What the target is: the embedded sandbox speaks OpenAI's dialect."""
        return self.transport.target.provider

    @property
    def reader(self) -> ApiReader:
        return OpeaReader(self.transport) if self.provider.dialect == "opea" else Reader(self.transport)

    @property
    def step_reader(self) -> ApiReader:
        if self.provider.dialect == "opea":
            return OpeaReader(self.transport, retry=NO_RETRY)
        return Reader(self.transport, retry=NO_RETRY)

    @property
    def writer(self) -> ApiWriter:
        return OpeaWriter(self.transport) if self.provider.dialect == "opea" else Writer(self.transport)


@contextlib.contextmanager
def connect(settings: Settings) -> Iterator[Connection]:
    info = target_info(settings)
    if settings.sandbox:
        from reconciler.sandbox.claim import remove_if_unused
        from reconciler.sandbox.server import running

        made = [p for p in (settings.sandbox_db.parent, settings.sandbox_db) if not p.exists()]
        try:
            with running(settings.sandbox_db, settings.sandbox_speed) as (url, sandbox):
                transport = Transport(Target(url, "sandbox", OPENAI, label=info.label))
                try:
                    yield Connection(info.model_copy(update={"sandbox_id": sandbox.store.identity()}), transport)
                finally:
                    transport.close()
                sandbox.store.mark_used()  # a command succeeded on it: kept, even empty
        except BaseException:
            if settings.sandbox_db in made and settings.sandbox_db.exists():  # refused on first use:
                with contextlib.suppress(OSError):  # leave no sandbox behind, if nobody else uses it
                    remove_if_unused(settings.sandbox_db, made)
            raise
        return
    transport = Transport(remote_target(settings))
    try:
        yield Connection(info, transport)
    finally:
        transport.close()

