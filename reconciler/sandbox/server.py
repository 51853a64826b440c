"""Running the sandbox: in the foreground (``ftctl sandbox serve``) or on a background thread
(``--sandbox``, tests), always on a real loopback socket so that clients speak real HTTP."""

from __future__ import annotations

import asyncio
import contextlib
import errno
import logging
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import uvicorn

from reconciler.sandbox.app import create_app
from reconciler.sandbox.flavor import Options
from reconciler.sandbox.state import Sandbox
from reconciler.sandbox.store import Store

DEFAULT_DB = Path(".ftctl") / "sandbox.db"


def _server(db: Path, options: Options, clock: str) -> tuple[uvicorn.Server, Sandbox, Store]:
    store = Store(db, clock)
    sandbox, app = create_app(store, options)
    config = uvicorn.Config(app, log_level="warning", access_log=False, lifespan="off",
                            timeout_graceful_shutdown=1)
    return uvicorn.Server(config), sandbox, store


BACKLOG = 2048


def _listener(family: socket.AddressFamily) -> socket.socket:
    """A TCP socket whose connections send small writes at once. asyncio turns Nagle's algorithm off
    only for sockets made with ``IPPROTO_TCP``; with it on, a response's body waited behind its
    headers for the client's delayed ACK: 40 ms added to every request on a kept-alive connection."""
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)  # inherited by accepted connections
    return sock


def serve(host: str, port: int, db: Path, options: Options | None = None, clock: str = "real") -> None:
    """Serve until interrupted."""
    sock = _listener(socket.AF_INET6 if ":" in host else socket.AF_INET)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError as exc:
        sock.close()
        if exc.errno == errno.EADDRINUSE:
            raise OSError(f"port {port} on {host} is in use (another sandbox?): choose another with --port N, "
                          "or --port 0 for any free port") from None
        raise OSError(f"cannot listen on {host}:{port}: {exc.strerror}") from None
    sock.listen(BACKLOG)  # from now on a client waits in the backlog instead of being refused
    options = options or Options()
    server, _, store = _server(db, options, clock)
    extras = "".join(f", {k} {v}" for k, v in (("max active jobs", options.max_active_jobs),
                                              ("daily limit", options.daily_limit),
                                              ("dropping", ",".join(sorted(options.drop_fields)) or None),
                                              ("idempotency keys", None if options.idempotency else "ignored"))
                     if v)
    print(f"ftctl sandbox: http://{host}:{sock.getsockname()[1]}{options.flavor.prefix} ({options.flavor.name}, "
          f"db {db}, speed x{options.speed}, {clock} clock{extras})", flush=True)
    try:
        asyncio.run(server.serve(sockets=[sock]))
    finally:
        store.close()


@contextlib.contextmanager
def running(db: Path = DEFAULT_DB, speed: float = 1.0) -> Iterator[tuple[str, Sandbox]]:
    """A sandbox on a free loopback port for the duration of the block; yields its base URL."""
    sock = _listener(socket.AF_INET)
    sock.bind(("127.0.0.1", 0))
    server, sandbox, store = _server(db, Options(speed=speed), "real")
    logging.getLogger("uvicorn.error").setLevel(logging.CRITICAL)
    thread = threading.Thread(target=lambda: asyncio.run(server.serve(sockets=[sock])), daemon=True,
                              name="ftctl-sandbox")
    try:
        thread.start()
        deadline = time.monotonic() + 10
        while not server.started:
            if not thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError("the embedded sandbox did not start")
            time.sleep(0.01)
        yield f"http://127.0.0.1:{sock.getsockname()[1]}/v1", sandbox
    finally:
        server.should_exit = True
        thread.join(timeout=5)
        store.close()
        sock.close()
