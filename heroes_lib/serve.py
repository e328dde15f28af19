"""Serve an app with uvicorn in a process of its own, on a free port of 127.0.0.1, for as long as a block runs.

``with serving("heroes_lib.api:app") as base_url:`` starts ``uvicorn heroes_lib.api:app``, waits until it answers,
yields ``http://127.0.0.1:<port>`` and stops it at the end as Ctrl+C would (the app's lifespan shuts down). If
uvicorn exits or does not answer in time, ``ServerError`` says so and quotes uvicorn's log. Lesson 05, the tests
and the benchmarks start their servers with it; ``start_uvicorn`` and ``UvicornProcess`` are the steps inside,
for callers that watch a server that is meant to fail, or start several at once.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import httpx

#: The course's API, as uvicorn names it.
API_APP = "heroes_lib.api:app"
HOST = "127.0.0.1"


class ServerError(RuntimeError):
    """uvicorn exited, or did not answer in time; the message ends with what it logged."""


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as probe:
        probe.bind((HOST, 0))
        port: int = probe.getsockname()[1]
        return port


@dataclass
class UvicornProcess:
    """A uvicorn process serving ``app`` on ``port``; its output (messages and access log) goes to ``log_path``."""

    app: str
    port: int
    process: subprocess.Popen[bytes]
    log_path: Path
    killed: bool = field(default=False)  # it did not exit within the timeout of stop() and was killed
    _final_log: str | None = field(default=None, repr=False)

    @property
    def base_url(self) -> str:
        """Where the server answers, e.g. ``http://127.0.0.1:8123``."""
        return f"http://{HOST}:{self.port}"

    def log(self) -> str:
        """Everything uvicorn has written so far."""
        if self._final_log is not None:  # stopped: the file is gone
            return self._final_log
        return self.log_path.read_text(errors="replace")

    def stop(self, timeout: float = 10) -> str:
        """Stop it as Ctrl+C would (SIGTERM), kill it if it has not exited within ``timeout`` s; return its log."""
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.killed = True
                self.process.wait()
        if self._final_log is None:
            self._final_log = self.log()
            self.log_path.unlink(missing_ok=True)
        return self._final_log


def start_uvicorn(
    app: str = API_APP,
    *,
    env: Mapping[str, str] | None = None,
    workers: int = 1,
    port: int | None = None,
    options: Sequence[str] = (),
    cwd: str | Path | None = None,
) -> UvicornProcess:
    """Start ``uvicorn app`` on 127.0.0.1 (on ``port``, else a free one) and return at once, without waiting.

    ``env`` is added to this process's environment (``HEROES_DATABASE_URL``, say); ``options`` are more
    uvicorn options (``["--app-dir", folder]`` for an app outside the installed packages). The output goes
    to a file rather than a pipe: a pipe nobody reads fills up and stops the server.
    """
    descriptor, log_name = tempfile.mkstemp(prefix="uvicorn-", suffix=".log")
    os.close(descriptor)
    port = port or free_port()
    command = [sys.executable, "-m", "uvicorn", app, "--host", HOST, "--port", str(port)]
    if workers != 1:
        command += ["--workers", str(workers)]
    with open(log_name, "ab") as log:  # append mode: the server's writes never overwrite each other
        process = subprocess.Popen(
            [*command, *options], cwd=cwd, env={**os.environ, **(env or {})}, stdout=log, stderr=subprocess.STDOUT
        )
    return UvicornProcess(app, port, process, Path(log_name))


def wait_until_answering(server: UvicornProcess, *, path: str = "/openapi.json", timeout: float = 30) -> None:
    """Return once ``GET path`` answers 200; ``ServerError`` (with the log) if uvicorn exits or ``timeout`` passes.

    The default ``path`` is FastAPI's schema: it answers without touching the database.
    """
    deadline = time.monotonic() + timeout
    while True:
        if server.process.poll() is not None:
            log = server.stop()
            raise ServerError(f"uvicorn {server.app} exited with code {server.process.returncode}:\n{log}")
        try:
            if httpx.get(server.base_url + path, timeout=1).status_code == 200:
                return
        except httpx.TransportError:
            pass  # not listening yet
        if time.monotonic() > deadline:
            log = server.stop()
            raise ServerError(f"uvicorn {server.app} did not answer within {timeout:g} s:\n{log}")
        time.sleep(0.1)


@contextmanager
def serving(
    app: str = API_APP,
    *,
    env: Mapping[str, str] | None = None,
    workers: int = 1,
    options: Sequence[str] = (),
    cwd: str | Path | None = None,
    timeout: float = 30,
    log: list[str] | None = None,
) -> Iterator[str]:
    """Serve ``app`` with uvicorn for the duration of the block; yields its base URL once it answers.

    At the end uvicorn is stopped (SIGTERM, as Ctrl+C would: the lifespan's shutdown runs). ``log``, if given,
    receives the lines uvicorn wrote. See ``start_uvicorn`` for the other arguments.
    """
    server = start_uvicorn(app, env=env, workers=workers, options=options, cwd=cwd)
    try:
        wait_until_answering(server, timeout=timeout)
        yield server.base_url
    finally:
        output = server.stop()
        if log is not None:
            log.extend(output.splitlines())
