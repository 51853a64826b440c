"""What keeps an apply from costing more than it should: active-job slots and the tag round trip.

* ``Slots``: with ``--max-active-jobs N``, at most N of the stack's jobs are active at once; a create
  beyond that is deferred (or, with ``--wait``, made once a job has finished). A quota refusal from
  the service itself is handled the same way: deferred, or retried after a job has finished — never
  retried in a loop.

The tag round trip (``reconciler.plan.roundtrip``) is checked by the applier after each create.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Callable, Iterator

POLL = 2.0
QUOTA_POLL = 15.0
"""How often a create refused for a quota looks whether a job has finished."""
QUOTA_RETRY = 60.0
"""With --wait, a create refused for a quota is tried again at most this often."""


class Slots:
    """Active-job slots: the IDs of the stack's active jobs (listed when the apply starts, then kept
    up to date: a job added when created, removed when cancelled, so that no job is counted twice)
    and the creates in flight. A create that finds every slot taken while another is in flight waits
    for that one to settle — it may fail and free its slot — before it is deferred. A replace counts
    the job it replaces as free: it takes its slot before it cancels, so it never cancels a job
    without a slot for the new one. The API is never read while the lock is held."""

    def __init__(self, list_active: Callable[[], set[str]], limit: int | None, wait: bool, deadline: float,
                 clock: Callable[[], float], sleep: Callable[[float], None],
                 limit_name: str = "--max-active-jobs", counted: str = "of the stack's jobs") -> None:
        self.list_active, self.limit, self.wait, self.deadline = list_active, limit, wait, deadline
        self.clock, self.sleep, self.limit_name, self.counted = clock, sleep, limit_name, counted
        self.cond = threading.Condition()
        self.active: set[str] = set()
        self.inflight = 0

    def start(self) -> None:
        """List the active jobs once, before any step runs (only when there is a limit)."""
        if self.limit is not None:
            listed = self.list_active()
            with self.cond:
                self.active = set(listed)

    def _taken(self, replacing: str | None) -> int:
        return len(self.active - {replacing} if replacing else self.active)

    def acquire(self, replacing: str | None = None) -> str | None:
        """Take a slot for a create (settle it afterwards); a reason to defer it when there is none
        (and no waiting). ``replacing``: the active job this create replaces, counted as free."""
        if self.limit is None:
            return None
        while True:
            with self.cond:
                while self._taken(replacing) + self.inflight >= self.limit and self.inflight > 0:
                    self.cond.wait()
                full = self._taken(replacing)
                if full < self.limit:
                    self.inflight += 1
                    return None
            if not self.wait or self.clock() > self.deadline:
                are = "is" if full == 1 else "are"
                later = "--wait timed out" if self.wait else "a later apply creates it (or apply --wait)"
                return f"{full} {self.counted} {are} active and {self.limit_name} is {self.limit}: {later}"
            self.sleep(POLL)
            listed = self.list_active()  # jobs may have finished meanwhile
            with self.cond:
                self.active = set(listed)

    def settle(self, created: str | None) -> None:
        """A create that took a slot has ended: ``created`` is its job, active now, or None."""
        if self.limit is None:
            return
        with self.cond:
            self.inflight -= 1
            if created:
                self.active.add(created)
            self.cond.notify_all()

    def release(self, job_id: str) -> None:
        """``job_id`` stopped being active (cancelled); twice is the same as once."""
        with self.cond:
            self.active.discard(job_id)
            self.cond.notify_all()

    def wait_after_quota(self) -> bool:
        """After the service refused a create for a quota: with ``--wait``, wait until one of the
        stack's jobs has finished or ``QUOTA_RETRY`` seconds have passed (a daily limit resets
        without any job finishing), then try again (True); give up at the deadline (False)."""
        if not self.wait:
            return False
        before, since = len(self.list_active()), self.clock()
        while self.clock() < self.deadline:
            self.sleep(min(QUOTA_POLL, max(0.0, self.deadline - self.clock())))
            if self.clock() - since >= QUOTA_RETRY or len(self.list_active()) < before:
                return self.clock() < self.deadline
        return False


class Limits:
    """Every limit a create must fit under at once — the stack's (``--max-active-jobs``) and the
    resource's (a provider's, such as Azure's 1 running and 20 queued) — taken all or none."""

    def __init__(self, *slots: Slots) -> None:
        self.slots = slots

    def start(self) -> None:
        for s in self.slots:
            s.start()

    def acquire(self, replacing: str | None = None) -> str | None:
        taken: list[Slots] = []
        for s in self.slots:
            full = s.acquire(replacing)
            if full is not None:
                for t in taken:  # no slot held for a create that is not made
                    t.settle(None)
                return full
            taken.append(s)
        return None

    def settle(self, created: str | None) -> None:
        for s in self.slots:
            s.settle(created)

    def release(self, job_id: str) -> None:
        for s in self.slots:
            s.release(job_id)

    def wait_after_quota(self) -> bool:
        return self.slots[0].wait_after_quota()


class Probe:
    """Until a create of a method type has come back with every field it was sent, creates of that
    type go one at a time: a target that drops fields (a gateway) costs one job, not one per
    parallel step. A create waiting for a quota lets go of the probe meanwhile."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.verified: set[str] = set()
        self.holder = threading.local()

    @contextlib.contextmanager
    def first(self, kind: str) -> Iterator[None]:
        if kind in self.verified:
            yield
            return
        self.lock.acquire()
        if kind in self.verified:  # the create ahead came back whole while this one waited: go side by side
            self.lock.release()
            yield
            return
        self.holder.held = True
        try:
            yield
        finally:
            if getattr(self.holder, "held", False):
                self.holder.held = False
                self.lock.release()

    @contextlib.contextmanager
    def released(self) -> Iterator[None]:
        """Let go of the probe for a while (waiting for a quota teaches nothing about the target)."""
        if not getattr(self.holder, "held", False):
            yield
            return
        self.holder.held = False
        self.lock.release()
        try:
            yield
        finally:
            self.lock.acquire()
            self.holder.held = True

    def passed(self, kind: str) -> None:
        self.verified.add(kind)
