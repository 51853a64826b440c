"""What keeps an apply from costing more than it should: active-job slots and the tag round trip.

* ``Slots``: with ``--max-active-jobs N``, at most N of the stack's jobs are active at once; a create
  beyond that is deferred (or, with ``--wait``, made once a job has finished). A quota refusal from
  the service itself is handled the same way: deferred, or retried after a job has finished — never
  retried in a loop.
* ``dropped_fields``: a job must come back carrying what ftctl sent that makes it findable and what
  it was asked to be (its three tags, its method and hyperparameters). A gateway that forwards only
  some fields would otherwise make every apply create another paid job, forever.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

from reconciler.api.models import TAGS, LiveJob

POLL = 2.0


class Slots:
    """Active-job slots: ``active`` jobs of the stack (counted once, then kept up to date) and
    creates in flight. A create that finds every slot taken while another is in flight waits for
    that one to settle — it may fail and free its slot — before it is deferred."""

    def __init__(self, count_active: Callable[[], int], limit: int | None, wait: bool, deadline: float,
                 clock: Callable[[], float], sleep: Callable[[float], None],
                 limit_name: str = "--max-active-jobs") -> None:
        self.count_active, self.limit, self.wait, self.deadline = count_active, limit, wait, deadline
        self.clock, self.sleep, self.limit_name = clock, sleep, limit_name
        self.cond = threading.Condition()
        self.active: int | None = None
        self.inflight = 0

    def acquire(self) -> str | None:
        """Take a slot for a create (settle it afterwards); a reason to defer it when there is none
        (and no waiting)."""
        if self.limit is None:
            return None
        while True:
            with self.cond:
                if self.active is None:
                    self.active = self.count_active()
                while self.active + self.inflight >= self.limit and self.inflight > 0:
                    self.cond.wait()
                if self.active < self.limit:
                    self.inflight += 1
                    return None
                full = self.active
            if not self.wait or self.clock() > self.deadline:
                return (f"{full} of the stack's jobs are active and {self.limit_name} is {self.limit}: "
                        "a later apply creates it (or apply --wait)")
            self.sleep(POLL)
            with self.cond:
                self.active = self.count_active()  # jobs may have finished meanwhile

    def settle(self, created: bool) -> None:
        """A create that took a slot has ended: its job is active (``created``), or there is none."""
        if self.limit is None:
            return
        with self.cond:
            self.inflight -= 1
            if created:
                assert self.active is not None
                self.active += 1
            self.cond.notify_all()

    def release(self) -> None:
        """A job stopped being active (cancelled)."""
        with self.cond:
            if self.active is not None:
                self.active = max(0, self.active - 1)
            self.cond.notify_all()

    def wait_for_a_finished_job(self) -> bool:
        """After the service refused a create for a quota: with ``--wait``, wait until one of the
        stack's jobs has finished (True), or give up at the deadline (False)."""
        if not self.wait:
            return False
        before = self.count_active()
        while self.clock() < self.deadline:
            self.sleep(POLL)
            if self.count_active() < before:
                return True
        return False


def dropped_fields(job: LiveJob, body: dict[str, Any]) -> list[str]:
    """The fields of ``body`` that ``job`` came back without."""
    dropped = []
    if any(job.tags.get(key) != body["metadata"][key] for key in TAGS):
        dropped.append("metadata")
    kind = body["method"]["type"]
    method = job.method or {}
    if method.get("type", "supervised" if job.method is None and job.hyperparameters else None) != kind:
        dropped.append("method")
    else:
        sent = body["method"][kind].get("hyperparameters", {})
        got = (method.get(kind) or {}).get("hyperparameters") or job.hyperparameters or {}
        chosen = {k: v for k, v in sent.items() if v not in ("auto", "default")}
        if any(k in got and got[k] != v for k, v in chosen.items()) or any(k not in got for k in chosen):
            dropped.append("method.hyperparameters")
    return dropped
