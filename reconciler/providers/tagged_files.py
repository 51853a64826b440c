"""Identity in a file name, for a target whose jobs keep no metadata (SPEC §2, §7).

ftctl finds its jobs by three tags (stack, name, spec hash) that ride on a job's ``metadata``. A
service that drops metadata (OPEA's finetuning service keeps none) keeps other things a caller
chooses; the one such field every service keeps is the training file the job reads. Where the
provider keeps no metadata, each job therefore trains on an upload of its own, named

    ftctl-<sha256 of the bytes>-<stack>.<name>.<spec>.jsonl

which is still an upload name of ``identity.uploads`` (``ftctl-<sha256>-<original name>``), so the
bytes stay known by their digest. Stack and manifest names have no dot (``[a-z0-9-]``) and a spec
hash is ``v1-<32 hex>``, so the name splits back into its parts; it is at most 240 characters, and
every character is one a URL-quoting server keeps as it is (OPEA stores ``quote(filename, safe="")``).

A job whose file name does not parse carries no tags: it is not ftctl's, and never touched.
"""

from __future__ import annotations

import re

_TAGGED = re.compile(r"^ftctl-(?P<sha>[0-9a-f]{64})-(?P<stack>[a-z0-9][a-z0-9-]*)\.(?P<name>[a-z0-9][a-z0-9-]*)"
                     r"\.(?P<spec>v[0-9]+-[0-9a-f]{32})\.jsonl$")
MAX_NAME = 255
"""The longest file name most file systems (and so a service that saves uploads as files) take."""


def tagged_name(sha256: str, stack: str, name: str, spec: str) -> str:
    """The upload name that carries a job's three tags; ``ValueError`` if they would not read back."""
    made = f"ftctl-{sha256}-{stack}.{name}.{spec}.jsonl"
    if len(made) > MAX_NAME or tags_of(made) != (sha256, stack, name, spec):
        raise ValueError(f"{stack!r}, {name!r} and {spec!r} cannot be carried by a file name")
    return made


def tags_of(filename: str | None) -> tuple[str, str, str, str] | None:
    """(sha256, stack, name, spec) of an upload named by ``tagged_name``; None for any other name."""
    found = _TAGGED.match(filename or "")
    return (found["sha"], found["stack"], found["name"], found["spec"]) if found else None
