"""Following jobs until they finish: ``ftctl wait`` and ``apply --wait``.

Each poll re-reads every job still followed and, while it runs, its newest events, and turns them
into a ``Progress``: status, the step of the latest metrics event out of its total, the train loss
there, the estimated finish and, once it failed, its error. A display is told of each progress
that differs from the last one it was told of, so a terminal can redraw a table and a log can print
one line per change. A job is settled when it is terminal or paused (a paused job waits for a
person, not for time). The clock is injected: tests follow jobs without waiting. A Ctrl-C ends the
following with what is known so far (``Outcome.interrupted``): the jobs keep running on the service.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from reconciler.api.errors import ApiError
from reconciler.api.models import LiveEvent, LiveJob
from reconciler.api.ports import ApiReader
from reconciler.clock import SYSTEM, Clock
from reconciler.providers import OPENAI, Provider
from reconciler.providers.statuses import SETTLED, UNSUCCESSFUL

EVENTS_PER_POLL = 20


@dataclass(frozen=True)
class Progress:
    name: str
    job_id: str
    status: str
    step: int | None = None
    total_steps: int | None = None
    train_loss: float | None = None
    estimated_finish: int | None = None
    fine_tuned_model: str | None = None
    error: str | None = None

    @property
    def settled(self) -> bool:
        return self.status in SETTLED

    @property
    def failed(self) -> bool:
        return self.status == "failed"

    @property
    def unsuccessful(self) -> bool:
        """Ended without the model it was followed for: failed, or cancelled."""
        return self.status in UNSUCCESSFUL


@dataclass(frozen=True)
class Outcome:
    jobs: list[Progress]
    timed_out: bool
    interrupted: bool = False
    """Ended by Ctrl-C: ``jobs`` is what was known then."""

    @property
    def ok(self) -> bool:
        """Every job finished well (or was paused): none failed, none was cancelled, none still running."""
        return not (self.timed_out or self.interrupted) and not any(p.unsuccessful for p in self.jobs)


def latest_metrics(events: list[LiveEvent]) -> dict[str, object]:
    """The data of the newest metrics event among ``events`` (newest first), or {}."""
    return next((e.metrics for e in events if e.metrics), {})


def progress_of(name: str, job: LiveJob, events: list[LiveEvent], before: Progress | None = None) -> Progress:
    """The progress a job shows now; what its events no longer show (an older step) is kept."""
    metrics = latest_metrics(events)
    step, total, loss = _int(metrics.get("step")), _int(metrics.get("total_steps")), _float(metrics.get("train_loss"))
    if step is None and before is not None:
        step, total, loss = before.step, before.total_steps, before.train_loss
    error = None
    if job.error is not None and (job.error.message or job.error.code):
        error = job.error.message or job.error.code
    return Progress(name, job.id, job.status, step, total, loss, job.estimated_finish, job.fine_tuned_model,
                    error if job.status == "failed" else None)


def _int(value: object) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _float(value: object) -> float | None:
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else None


def follow(reader: ApiReader, jobs: dict[str, str], show: Callable[[Progress], None], timeout: float,
           interval: float = 5.0, clock: Clock = SYSTEM, provider: Provider = OPENAI) -> Outcome:
    """Follow ``jobs`` (job ID → name) until each is settled or ``timeout`` seconds have passed.

    A read that fails (the API is briefly away) is tried again at the next poll, up to the timeout;
    the reader's own retry policy has already been spent on it.
    """
    deadline = clock.monotonic() + timeout
    last: dict[str, Progress] = {}

    def known() -> list[Progress]:
        return [last.get(j) or Progress(n, j, "unknown") for j, n in jobs.items()]

    try:
        while True:
            for job_id, name in jobs.items():
                if job_id in last and last[job_id].settled:
                    continue
                try:
                    job = reader.get_job(job_id)
                    early = provider.phase(job.status) == "early"  # as the target knows its statuses
                    events = [] if early else reader.list_events(job_id, EVENTS_PER_POLL)
                except ApiError as exc:
                    if not exc.retryable or clock.monotonic() >= deadline:
                        raise
                    continue
                now = progress_of(name, job, events, last.get(job_id))
                if now != last.get(job_id):
                    show(now)
                last[job_id] = now
            if all(p.settled for p in known()):
                return Outcome(known(), timed_out=False)
            if clock.monotonic() >= deadline:
                return Outcome(known(), timed_out=True)
            clock.sleep(max(0.0, min(interval, deadline - clock.monotonic())))
    except KeyboardInterrupt:
        return Outcome(known(), timed_out=False, interrupted=True)
