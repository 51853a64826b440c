"""The applier: executes a ``Plan`` against the API, safely under retries, crashes and races.

Uploads go first. Then each manifest name's actions run in order (duplicate cancels, then its main
action); different names run in parallel. What each step does is in ``steps``; this module runs them,
tells the caller of each result as soon as it and every step before it in the plan have ended
(``on_result``: progress, in an order that does not depend on timing), and keeps account of what
started, so that an interrupted apply (Ctrl-C) can say what was done, what was in flight and what
never started.

Steps run on daemon threads: an interrupt does not wait for a step in flight (a slot or a pause can
wait for an hour). A step cut off is safe by the same design that makes a crash safe: every create is
found by its tags before it is made again, and the next plan shows the truth.

A step that fails, for any reason, is reported as that step's failure; the others still run and
are reported.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import TypeVar, assert_never

from reconciler import logs
from reconciler.api.errors import ApiError
from reconciler.api.ports import ApiReader, ApiWriter
from reconciler.api.retry import RetryPolicy
from reconciler.api.upload import ContentChanged
from reconciler.apply.steps import (
    Deferred,
    Outcome,
    Run,
    StepFailed,
    StepResult,
    idempotency_key,
    upload_key,
)
from reconciler.clock import SYSTEM, Clock
from reconciler.plan.model import (
    Action,
    CancelAction,
    CreateAction,
    EvaluateAction,
    PauseAction,
    Plan,
    ReplaceAction,
    ResumeAction,
    UploadAction,
)
from reconciler.providers import COMPATIBLE, Provider

UploadProgress = Callable[[str, int], None]
T = TypeVar("T")
R = TypeVar("R")

__all__ = ["Applier", "ApplyInterrupted", "Outcome", "StepResult", "idempotency_key", "upload_key"]


class ApplyInterrupted(Exception):
    """Ctrl-C during an apply: what was done, what was in flight (it may or may not have happened),
    and what never started."""

    def __init__(self, done: list[StepResult], untold: list[StepResult], in_flight: list[Action],
                 not_started: list[Action]) -> None:
        super().__init__("apply interrupted")
        self.done, self.in_flight, self.not_started = done, in_flight, not_started
        self.untold = untold
        """Steps done but not yet given to ``on_result`` (a step before them was still in flight)."""


class _Ledger:
    """Which steps started and which ended; results go to ``on_result`` in plan order, each as soon as
    it and every step before it have ended (one call at a time)."""

    def __init__(self, plan: Plan, on_result: Callable[[StepResult], None] | None) -> None:
        self.lock = threading.Lock()
        self.actions = plan.actions
        self.index = {id(a): i for i, a in enumerate(plan.actions)}
        self.started: set[int] = set()
        self.results: dict[int, StepResult] = {}
        self.told = 0
        self.on_result = on_result
        self.closed = False
        """Set once the run is interrupted: a step that ends later is not told (the account is given)."""

    def start(self, action: Action) -> None:
        with self.lock:
            self.started.add(self.index[id(action)])

    def end(self, action: Action, result: StepResult) -> None:
        with self.lock:
            self.results[self.index[id(action)]] = result
            while self.told in self.results and not self.closed:
                if self.on_result is not None:
                    self.on_result(self.results[self.told])
                self.told += 1

    def in_order(self) -> list[StepResult]:
        with self.lock:
            return [r for _, r in sorted(self.results.items())]

    def interrupted(self) -> ApplyInterrupted:
        with self.lock:
            self.closed = True
            return ApplyInterrupted(
                done=[r for _, r in sorted(self.results.items())],
                untold=[r for i, r in sorted(self.results.items()) if i >= self.told],
                in_flight=[a for i, a in enumerate(self.actions) if i in self.started and i not in self.results],
                not_started=[a for i, a in enumerate(self.actions) if i not in self.started])


def _parallel(fn: Callable[[T], R], items: list[T], workers: int, stop: threading.Event) -> list[R]:
    """``fn`` over ``items`` on up to ``workers`` daemon threads, results in order. The caller waits in
    short steps, so that a Ctrl-C reaches it at once; ``stop`` keeps items not yet taken from starting."""
    todo: queue.Queue[int] = queue.Queue()
    for i in range(len(items)):
        todo.put(i)
    out: dict[int, R] = {}
    finished: queue.Queue[BaseException | None] = queue.Queue()

    def work() -> None:
        while not stop.is_set():
            try:
                i = todo.get_nowait()
            except queue.Empty:
                break
            try:
                out[i] = fn(items[i])
            except BaseException as exc:  # a bug in a step runner: handed to the caller
                finished.put(exc)
                return
        finished.put(None)

    count = min(workers, len(items))
    for _ in range(count):
        threading.Thread(target=work, daemon=True, name="ftctl-apply").start()
    for _ in range(count):
        while True:
            try:
                error = finished.get(timeout=0.1)
                break
            except queue.Empty:
                continue
        if error is not None:
            raise error
    return [out[i] for i in range(len(items))]


class Applier:
    """``reader`` must not retry on its own (``NO_RETRY``): ``retry`` retries whole steps."""

    def __init__(self, reader: ApiReader, writer: ApiWriter, root: Path, retry: RetryPolicy | None = None,
                 parallelism: int = 4, wait: bool = False, wait_timeout: float = 3600, clock: Clock = SYSTEM,
                 progress: UploadProgress | None = None, provider: Provider = COMPATIBLE,
                 max_active: int | None = None, max_active_name: str = "--max-active-jobs",
                 evaluator: Callable[[EvaluateAction], StepResult] | None = None) -> None:
        self.reader, self.writer, self.root = reader, writer, root
        self.clock = clock
        self.retry = retry or RetryPolicy(sleep=clock.sleep, clock=clock.monotonic)
        self.parallelism = max(1, parallelism)
        self.wait, self.wait_timeout = wait, wait_timeout
        self.progress = progress
        self.provider, self.max_active, self.max_active_name = provider, max_active, max_active_name
        self.evaluator = evaluator
        """Runs a stage's evaluation (``session``: completions, grading, its cache)."""

    def apply(self, plan: Plan, on_result: Callable[[StepResult], None] | None = None) -> list[StepResult]:
        """Carry out ``plan``; each result is also given to ``on_result`` as soon as its step ends. On
        Ctrl-C, raises ``ApplyInterrupted`` with the account of the run so far."""
        run = Run(self, plan.stack)
        ledger = _Ledger(plan, on_result)
        stop = threading.Event()
        try:
            run.slots.start()
            uploads = [a for a in plan.actions if isinstance(a, UploadAction)]
            upload_results = _parallel(lambda a: self._step(run, ledger, a, {}), uploads, self.parallelism, stop)
            file_ids: dict[str, str] = {}  # sha256 → ID of the uploads creates share
            own: dict[str, dict[str, str]] = {}  # per name, of the uploads made for its job alone
            for a, r in zip(uploads, upload_results, strict=True):
                if r.outcome in ("done", "skipped") and r.job_id:
                    (own.setdefault(a.name, {}) if a.file.upload_name else file_ids)[a.file.sha256] = r.job_id
            groups: dict[str, list[Action]] = {}
            for action in plan.actions:
                if not isinstance(action, UploadAction):
                    groups.setdefault(action.name, []).append(action)
            _parallel(lambda acts: [self._step(run, ledger, a, {**file_ids, **own.get(a.name, {})}) for a in acts],
                      list(groups.values()), self.parallelism, stop)
        except KeyboardInterrupt:
            stop.set()
            raise ledger.interrupted() from None
        return ledger.in_order()

    def _step(self, run: Run, ledger: _Ledger, action: Action, file_ids: dict[str, str]) -> StepResult:
        ledger.start(action)
        log = logs.get(name=action.name, job_id=action.job_id, action=action.action)
        log.info("step.start", reason=action.reason)
        try:
            result = self._dispatch(run, action, file_ids)
        except Deferred as exc:
            result = StepResult(action.name, action.action, "deferred", str(exc), action.job_id)
        except (ApiError, StepFailed, ContentChanged, OSError) as exc:
            result = StepResult(action.name, action.action, "failed", logs.redact_text(str(exc)), action.job_id)
        except Exception as exc:  # a bug must not lose the report of the other steps
            log.debug("step.crash", exc_info=True)
            result = StepResult(action.name, action.action, "failed",
                                f"internal error: {type(exc).__name__}: {logs.redact_text(str(exc))}", action.job_id)
        log.info("step.end", outcome=result.outcome, detail=result.detail, result_job_id=result.job_id)
        ledger.end(action, result)
        return result

    def _dispatch(self, run: Run, action: Action, file_ids: dict[str, str]) -> StepResult:
        match action:
            case EvaluateAction():
                if self.evaluator is None:
                    raise StepFailed("no evaluator in this run: run ftctl eval " + action.name)
                return self.evaluator(action)
            case UploadAction():
                return run.upload(action)
            case CreateAction() if action.blocked_by is not None:  # shown by the plan, never executed
                raise Deferred(f"not created yet ({action.blocked_by.reason}); a later apply creates it (apply "
                               "--wait carries a pipeline through)")
            case CreateAction() | ReplaceAction():
                return run.create(action, file_ids)
            case CancelAction():
                result = run.cancel(action.name, action.job_id, "cancel")
                run.slots.release(action.job_id)
                return result
            case PauseAction():
                return run.pause(action.name, action.job_id, "pause")
            case ResumeAction():
                return run.resume(action)
            case _:
                assert_never(action)


def outcomes(results: Iterable[StepResult]) -> dict[Outcome, int]:
    """How many steps ended each way."""
    counts: dict[Outcome, int] = {"done": 0, "skipped": 0, "deferred": 0, "failed": 0}
    for r in results:
        counts[r.outcome] += 1
    return counts
