"""Run the API in a real ``uvicorn`` process on 127.0.0.1, on a free port, for the tests that need one."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent
#: What ``uvicorn`` serves unless told otherwise: the course's API.
API_APP = "heroes_lib.api:app"


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def start_uvicorn(port: int, env: dict[str, str] | None = None, app: str = API_APP) -> subprocess.Popen[str]:
    """Start ``uvicorn heroes_lib.api:app`` (or ``app``) from a folder outside the project, not waiting for it.

    ``env`` is added to this process's environment (e.g. ``HEROES_DATABASE_URL``). Uvicorn logs to stderr
    and writes its access log to stdout; both are captured. An ``app`` of the tests' own is imported from
    the checkout; the course's API must import from anywhere, as installed.
    """
    app_dir = [] if app == API_APP else ["--app-dir", str(ROOT)]
    return subprocess.Popen(
        [sys.executable, "-m", "uvicorn", app, *app_dir, "--host", "127.0.0.1", "--port", str(port)],
        cwd=tempfile.gettempdir(),
        env={**os.environ, **(env or {})},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def stop(process: subprocess.Popen[str]) -> tuple[str, str]:
    """Stop a server (SIGTERM, as Ctrl+C would; killed if it does not exit) and return its stdout and stderr."""
    if process.poll() is None:
        process.terminate()
    try:
        return process.communicate(timeout=10)
    except subprocess.TimeoutExpired:
        process.kill()
        return process.communicate()


@contextmanager
def running_api(
    env: dict[str, str] | None = None, *, log: list[str] | None = None, timeout: float = 20, app: str = API_APP
) -> Iterator[str]:
    """Yield the base URL of a uvicorn serving the API (or ``app``, built on it) once it answers; stop it afterwards.

    If ``log`` is given, the server's output lines (stderr, then the access log) are appended to it on exit.
    """
    port = free_port()
    process = start_uvicorn(port, env, app)
    base_url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + timeout
    try:
        while True:
            if process.poll() is not None:
                _, errors = stop(process)
                raise RuntimeError(f"uvicorn exited with {process.returncode}:\n{errors}")
            try:
                if httpx.get(f"{base_url}/openapi.json", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass  # not listening yet
            if time.monotonic() > deadline:
                raise TimeoutError(f"uvicorn did not answer within {timeout} s")
            time.sleep(0.1)
        yield base_url
    finally:
        output, errors = stop(process)
        if log is not None:
            log.extend(errors.splitlines() + output.splitlines())
