"""Run the API in a real ``uvicorn`` process on 127.0.0.1, on a free port, for the tests that need one."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager

import httpx


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def start_uvicorn(port: int, env: dict[str, str] | None = None) -> subprocess.Popen[str]:
    """Start ``uvicorn heroes_lib.api:app`` (not waiting for it); stdout and stderr are captured together."""
    return subprocess.Popen(
        [sys.executable, "-m", "uvicorn", "heroes_lib.api:app", "--host", "127.0.0.1", "--port", str(port)],
        env={**os.environ, **(env or {})},
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )


@contextmanager
def running_api(env: dict[str, str] | None = None, timeout: float = 30) -> Iterator[str]:
    """A started API: yields its base URL once it answers, stops it afterwards."""
    port = free_port()
    process = start_uvicorn(port, env)
    base_url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + timeout
        while True:
            if process.poll() is not None:
                raise RuntimeError(f"uvicorn exited early:\n{process.stdout.read() if process.stdout else ''}")
            try:
                if httpx.get(f"{base_url}/openapi.json", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline:
                raise TimeoutError("uvicorn did not start")
            time.sleep(0.1)
        yield base_url
    finally:
        process.terminate()
        process.wait(timeout=10)
