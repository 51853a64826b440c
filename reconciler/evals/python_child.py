"""The child process of python graders: run as a script by ``python_grader`` (``python -I``), never
imported. It uses the standard library only, so that it depends on nothing of ftctl.

It reads ``{"source", "pairs": [{"sample", "item"}], "timeout", "memory"}`` as JSON from stdin, executes the
user's code once, then calls ``grade(sample, item)`` for each pair under its own alarm of ``timeout``
seconds, and writes one JSON line per pair: ``{"value": number}`` or ``{"error": "why"}``. Anything the
user's code prints goes to stderr, so that stdout carries only the answers. The memory limit is set
by the parent before this starts (``RLIMIT_AS``); a ``MemoryError`` is reported as that limit.

Before the user's code runs, an audit hook (``sys.addaudithook``, which no Python code can remove)
holds it to its working directory: a write, create, rename, removal or change of mode of any path
that resolves outside it raises ``PermissionError``; so do starting another program (which the hook
would not follow) and reading another process's environment or memory (``/proc/PID/environ``:
ftctl's own holds the API key its grader is started without). ``fork`` is allowed: the hook goes
with it; ``tempfile`` makes its files in that directory. This stops careless or mistaken code from
touching the project or reading the key; code written to get around it (ctypes, a C extension) is
not held.
"""

import json
import math
import os
import re
import signal
import sys
import traceback
from typing import Any


class _Timeout(BaseException):  # BaseException: a grader's `except Exception` cannot swallow it
    pass


def _alarm(signum: int, frame: Any) -> None:
    raise _Timeout


def _why(exc: BaseException, memory: str) -> str:
    if isinstance(exc, MemoryError):
        return f"ran out of memory (limit {memory})"
    if isinstance(exc, SyntaxError):
        return f"{type(exc).__name__}: {exc.msg} (line {exc.lineno})"
    return traceback.format_exception_only(type(exc), exc)[-1].strip()


def _check(value: Any) -> dict[str, Any]:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return {"error": f"grade returned {type(value).__name__}, not a number"}
    if not math.isfinite(value):
        return {"error": f"grade returned {value}, not a finite number"}
    return {"value": float(value)}


def _limit_memory(limit: int) -> None:
    import resource

    try:
        resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
    except (ValueError, OSError):  # a system that refuses to limit address space (macOS): the data segment
        resource.setrlimit(resource.RLIMIT_DATA, (limit, limit))


def _limit_processes(extra: int) -> None:
    """At most ``extra`` more processes of this user than it has now (the system does not hold root to
    it: the parent watches the session too)."""
    import resource

    uid = os.getuid()
    mine = sum(1 for e in os.listdir("/proc") if e.isdigit() and _owner(e) == uid) if os.path.isdir("/proc") else 0
    if mine:
        resource.setrlimit(resource.RLIMIT_NPROC, (mine + extra, mine + extra))


def _owner(pid: str) -> int | None:
    try:
        return os.stat(f"/proc/{pid}").st_uid
    except OSError:
        return None


_WRITE_FLAGS = os.O_WRONLY | os.O_RDWR | os.O_CREAT | os.O_TRUNC | os.O_APPEND
_CHANGES = {"os.remove", "os.rename", "os.rmdir", "os.mkdir", "os.chmod", "os.chown", "os.link", "os.symlink",
            "os.truncate", "os.utime", "os.chflags", "os.lchflags", "os.setxattr", "os.removexattr", "os.mkfifo",
            "os.mknod", "shutil.rmtree", "shutil.chown", "sqlite3.connect"}
"""Audit events that change what their path arguments name (those of two paths: both are checked)."""
_PROGRAMS = {"os.exec", "os.posix_spawn", "os.spawn", "os.system", "subprocess.Popen", "pty.spawn",
             "os.startfile"}


_PRIVATE = re.compile(r"/proc/(\d+)/(?:task/\d+/)?(?:environ|mem)")
"""What another process of the user holds that is not the grader's: its environment (ftctl's holds
the API key) and its memory."""


def _not_another_process(path: Any) -> None:
    if isinstance(path, str | bytes | os.PathLike):
        private = _PRIVATE.fullmatch(os.path.realpath(os.fsdecode(path)))
        if private and int(private.group(1)) != os.getpid():
            raise PermissionError("a grader may not read another process's environment or memory")


def _confine(home: str) -> None:
    """From now on, writes only under ``home`` (and to /dev/null), and no other program started."""
    home = os.path.realpath(home)

    def outside(path: Any) -> str | None:
        if isinstance(path, int) or path is None or path == ":memory:":
            return None  # a descriptor already open, no path, sqlite's memory database
        where = os.path.realpath(os.fsdecode(path))
        inside = where == home or where.startswith(home + os.sep) or where == os.devnull
        return None if inside else where

    def hook(event: str, args: tuple[Any, ...]) -> None:
        if event == "open":
            path, mode, flags = (*args, None, None)[:3]
            _not_another_process(path)
            if not ((isinstance(mode, str) and any(c in mode for c in "wax+"))
                    or (isinstance(flags, int) and flags & _WRITE_FLAGS)):
                return
            paths = [path]
        elif event in _CHANGES:
            paths = [a for a in args[:2] if isinstance(a, str | bytes | os.PathLike)]
            if event == "os.symlink":
                paths = paths[1:]  # the link is made; what it points to is checked when written through it
        elif event in _PROGRAMS:
            raise PermissionError(f"a grader may not start another program ({event}): it would not be held to "
                                  "its working directory")
        else:
            return
        for path in paths:
            where = outside(path)
            if where is not None:
                raise PermissionError(f"a grader may write only in its working directory, not {where!r} "
                                      f"({event})")

    sys.addaudithook(hook)


def main() -> None:
    _limit_memory(int(sys.argv[1]))
    _limit_processes(int(sys.argv[2]))
    # The answers get their own descriptor; descriptor 1 becomes stderr, so that nothing the user's code
    # prints (print, os.write(1, …), a subprocess it starts) can pass for an answer.
    answers = os.fdopen(os.dup(1), "w", encoding="utf-8")
    os.dup2(2, 1)
    sys.stdout = sys.stderr
    request = json.loads(sys.stdin.read())
    timeout = float(request["timeout"])
    memory = str(request["memory"])
    signal.signal(signal.SIGALRM, _alarm)
    sys.dont_write_bytecode = True  # no cache files beside the modules it imports
    import tempfile

    tempfile.tempdir = os.getcwd()  # tempfile's files go where the grader may write
    _confine(os.getcwd())
    namespace: dict[str, Any] = {"__name__": "grader"}
    grade: Any = None
    setup: str | None
    me = os.getpid()  # before the user's module runs: a copy it forks while loading is not this process
    try:
        exec(compile(request["source"], "grader.py", "exec"), namespace)
        grade = namespace.get("grade")
        setup = None if callable(grade) else "the code defines no function grade(sample, item)"
    except BaseException as exc:  # the user's module failed to load: every pair gets why
        grade, setup = None, _why(exc, memory)
    if os.getpid() != me:  # a copy forked while the module loaded: it answers nothing
        os._exit(0)
    for pair in request["pairs"]:
        if setup is not None:
            result = {"error": setup}
        else:
            try:
                signal.setitimer(signal.ITIMER_REAL, timeout)
                try:
                    value = grade(pair["sample"], pair["item"])
                finally:
                    signal.setitimer(signal.ITIMER_REAL, 0)
                result = _check(value)
            except _Timeout:
                result = {"error": f"took longer than {timeout:g} s"}
            except BaseException as exc:
                result = {"error": _why(exc, memory)}
        if os.getpid() != me:  # a copy the grader forked, back from grade(): only the child answers
            os._exit(0)
        answers.write(json.dumps(result) + "\n")
        answers.flush()


if __name__ == "__main__":
    main()
