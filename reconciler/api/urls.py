"""Which API base URLs ftctl sends a key to: http(s) only, and plain http to loopback hosts only.
Kept apart from the HTTP client so that reading settings does not import it."""

from __future__ import annotations

from urllib.parse import urlsplit

LOOPBACK_HOSTS = {"localhost", "127.0.0.1", "::1", "[::1]"}


def check_base_url(url: str) -> str | None:
    """A reason to refuse ``url``, or None. Plain http is allowed to loopback hosts only."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return "not an http(s) URL"
    if parts.scheme == "http" and not is_loopback(url):
        return "plain http is only allowed to loopback hosts; use https"
    if parts.query or parts.fragment or "?" in url or "#" in url:
        # paths are appended to the base: a query or fragment would swallow them (…?x=1/fine_tuning/jobs)
        return "a base URL takes no query (?…) or fragment (#…): give the scheme, host and path only"
    if parts.username or parts.password:
        return "a base URL carries no user or password: give the key in the environment"
    return None


def is_loopback(url: str) -> bool:
    """Whether ``url`` points at this machine."""
    host = urlsplit(url).hostname or ""
    return host in LOOPBACK_HOSTS or host.startswith("127.")
