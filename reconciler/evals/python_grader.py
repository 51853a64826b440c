"""Python graders run on this machine, kept away from it: the user's ``grade(sample, item)`` runs in
a separate interpreter (``python -I``: no user site, no ``PYTHON*`` variables) started from an empty
environment plus ``PATH`` and ``LANG`` (so no API key can be read), in a fresh temporary directory,
with an address-space limit (``RLIMIT_AS``) and a time limit per answer. The child sets the memory
limit on itself, first thing, rather than through ``preexec_fn``: an evaluation grades from several
threads, and a ``preexec_fn`` is not safe to run in a process with threads.

The graders guide's limits for the service are 2 minutes and 2 GB of memory per grading; those are
the defaults here (``TIME_LIMIT``, ``MEMORY_LIMIT``). Its rule for results is that anything but a
float ("exception, invalid float value, etc.") is invalid and grades 0: here a bool, a non-number or
a NaN/infinity is the grader's error (``grade returned str, not a number``), which counts as 0.

A grader is not to start processes without bound: the child runs in a session of its own, capped by
``RLIMIT_NPROC`` (which the system enforces for other users than root), watched by the parent (more
than ``MAX_PROCESSES`` in its session, on a system with ``/proc``: all killed, that answer's error),
and the whole session is killed once the batch is over, so that no process it forked outlives it.

Many answers go to one process (``grade_python_batch``), so that a thousand items do not start a
thousand interpreters; each answer still has its own limit (an alarm in the child). Should the
child die or hang where the alarm cannot reach (a long call into C), the parent, which waits for
each answer at most the time limit plus ``GRACE``, kills it, gives that answer the error, and starts
a new child for the answers left.
"""

from __future__ import annotations

import contextlib
import json
import os
import queue
import signal
import subprocess
import sys
import tempfile
import threading
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import IO, Any

from reconciler.evals.model import Sample, Score
from reconciler.evals.templates import sample_namespace

TIME_LIMIT = 120.0
"""Seconds per answer (the guide: "the grading execution itself is limited to 2 minutes")."""
MEMORY_LIMIT = 2 * 1024**3
"""Bytes of address space of the child (the guide: "a limit of 2Gb of memory")."""
GRACE = 10.0
"""Seconds the parent waits beyond the time limit (interpreter start, the child's own alarm)."""
MAX_PROCESSES = 32
"""Processes a grader's session may hold at once (the child and what it starts)."""
_CHILD = Path(__file__).with_name("python_child.py")


def grade_python(source: str, item: Mapping[str, Any], sample: Sample, *,
                 time_limit: float = TIME_LIMIT, memory_limit: int = MEMORY_LIMIT) -> Score:
    return grade_python_batch(source, [(item, sample)], time_limit=time_limit, memory_limit=memory_limit)[0]


def grade_python_batch(source: str, pairs: Sequence[tuple[Mapping[str, Any], Sample]], *,
                       time_limit: float = TIME_LIMIT, memory_limit: int = MEMORY_LIMIT) -> list[Score]:
    """One score per (item, answer) pair, in order, from as few processes as the code allows."""
    payload = [{"sample": sample_namespace(sample), "item": dict(item)} for item, sample in pairs]
    scores: list[Score] = []
    while len(scores) < len(payload):
        scores.extend(_run(source, payload[len(scores):], time_limit, memory_limit))
    return scores


def _run(source: str, pairs: list[dict[str, Any]], time_limit: float, memory_limit: int) -> list[Score]:
    """Scores of a prefix of ``pairs`` (all of them, unless the child died or hung on one: that one is
    the last score, with the error)."""
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "LANG": os.environ.get("LANG", "C.UTF-8")}
    request = json.dumps({"source": source, "pairs": pairs, "timeout": time_limit,  # a date of a YAML item: str
                          "memory": _mib(memory_limit)}, default=str)
    with tempfile.TemporaryDirectory(prefix="ftctl-grader-") as cwd, tempfile.TemporaryFile() as stderr:
        child = subprocess.Popen(
            [sys.executable, "-I", str(_CHILD), str(memory_limit), str(MAX_PROCESSES)], stdin=subprocess.PIPE,
            stdout=subprocess.PIPE, stderr=stderr, cwd=cwd, env=env, start_new_session=True)
        assert child.stdin is not None and child.stdout is not None
        lines: queue.Queue[str] = queue.Queue()
        feeder = threading.Thread(target=_feed, args=(child.stdin, request), daemon=True)
        reader = threading.Thread(target=_drain, args=(child.stdout, lines), daemon=True)
        feeder.start()
        reader.start()
        scores: list[Score] = []
        try:
            while len(scores) < len(pairs):
                line = _next(lines, child.pid, time_limit + GRACE)
                if line is None:
                    scores.append(Score(0.0, f"took longer than {time_limit:g} s"))
                    break
                if line == _TOO_MANY:
                    scores.append(Score(0.0, f"started more than {MAX_PROCESSES} processes"))
                    break
                if not line:  # the child's stdout closed: it died
                    child.wait()
                    scores.append(Score(0.0, _died(child.returncode, stderr, memory_limit)))
                    break
                scores.append(_score(line))
        finally:
            _kill_session(child.pid)  # the child and every process it started, done or not
            child.wait()
            # Both threads end once the child is gone (a broken pipe, the end of its output); one still
            # running means a grandchild of the grader holds the pipe: its stream is left to the GC.
            for thread, stream in ((feeder, child.stdin), (reader, child.stdout)):
                thread.join(timeout=5)
                if not thread.is_alive():
                    stream.close()
        return scores


_TOO_MANY = "\0too many processes"
TICK = 0.2
"""Seconds between two looks at how many processes a grader's session holds."""


def _next(lines: queue.Queue[str], session: int, wait: float) -> str | None:
    """The child's next line; None when ``wait`` seconds passed first; ``_TOO_MANY`` when its session
    grew past ``MAX_PROCESSES`` meanwhile (looked at every ``TICK``)."""
    left = wait
    while left > 0:
        try:
            return lines.get(timeout=min(TICK, left))
        except queue.Empty:
            left -= TICK
            if _session_size(session) > MAX_PROCESSES:
                return _TOO_MANY
    return None


def _session_size(session: int) -> int:
    """How many processes are in ``session`` (0 where ``/proc`` cannot tell)."""
    count = 0
    try:
        entries = os.listdir("/proc")
    except OSError:
        return 0
    for entry in entries:
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat", "rb") as stat:
                    fields = stat.read().rsplit(b")", 1)[1].split()
            except (OSError, IndexError):
                continue
            count += len(fields) > 3 and fields[3] == str(session).encode()  # the session ID (field 6)
    return count


def _kill_session(session: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(session, signal.SIGKILL)


def _feed(stream: IO[bytes], request: str) -> None:
    try:
        stream.write(request.encode())
        stream.close()
    except OSError:
        pass  # the child died before it read everything: the reader reports it


def _drain(stream: IO[bytes], lines: queue.Queue[str]) -> None:
    for raw in stream:
        lines.put(raw.decode(errors="replace"))
    lines.put("")


def _score(line: str) -> Score:
    try:
        answer = json.loads(line)
        return Score(0.0, str(answer["error"])) if "error" in answer else Score(float(answer["value"]))
    except (ValueError, TypeError, KeyError):  # cannot happen unless the child's stdout was written by another
        return Score(0.0, f"the grader's process answered {line.strip()[:80]!r}, not a score")


def _mib(limit: int) -> str:
    return f"{limit / 1024**2:g} MiB"


def _died(code: int, stderr: IO[bytes], memory_limit: int) -> str:
    stderr.seek(0)
    last = [line for line in stderr.read().decode(errors="replace").splitlines() if line.strip()][-1:]
    if "MemoryError" in "".join(last):
        return f"ran out of memory (limit {_mib(memory_limit)})"
    how = f"was killed by signal {-code}" if code < 0 else f"exited with code {code}"
    return f"the grader's process {how}" + (f": {last[0].strip()}" if last else "")
