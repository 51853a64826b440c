"""The tag round trip (SPEC §7): a job must come back carrying what ftctl sent that makes it findable
and what it was asked to be — its three tags, its method and the hyperparameters chosen. A gateway
that forwards only some fields would otherwise make every apply create another paid job, forever:
the applier cancels such a job at once and creates nothing more on that target, and the planner,
finding the stack's job cancelled that way, does not ask for another one. On a target whose jobs keep
no metadata the tags are read off the training file's name (``providers.tagged_files``), and checked
the same way.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from reconciler.api.models import TAGS, LiveJob


def dropped_fields(job: LiveJob, tags: Mapping[str, str], method_type: str,
                   hyperparameters: Mapping[str, Any], echoes_method: bool = True) -> list[str]:
    """The fields sent (``tags``, the method and its ``hyperparameters`` as written) that ``job`` came
    back without. Where the service does not show a job's method (``echoes_method`` false: OPEA's),
    the tags alone are checked: they are what finds the job again."""
    dropped = []
    if any(job.tags.get(key) != tags[key] for key in TAGS):
        dropped.append("metadata")
    if not echoes_method:
        return dropped
    live = job.request
    if live.method_type != method_type:
        dropped.append("method")
    else:
        got = live.hyperparameters
        chosen = {k: v for k, v in hyperparameters.items() if v not in ("auto", "default")}
        if any(k in got and got[k] != v for k, v in chosen.items()) or any(k not in got for k in chosen):
            dropped.append("method.hyperparameters")
    return dropped
