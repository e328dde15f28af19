"""Kept for tests written against it before ``heroes_lib.serve`` existed: new code uses ``heroes_lib.serve``.

Each function here is ``heroes_lib.serve`` with the arguments those tests pass; an app of the tests' own
(``tests.reliability.slow_write_api``) is imported from the checkout, the course's API from any folder.
"""

from __future__ import annotations

import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from heroes_lib import serve
from heroes_lib.serve import API_APP, free_port

ROOT = Path(__file__).resolve().parent.parent

__all__ = ["API_APP", "ROOT", "free_port", "running_api", "start_uvicorn", "stop"]

_started: dict[int, serve.UvicornProcess] = {}  # by process id, for stop()


def _options(app: str) -> list[str]:
    return [] if app == API_APP else ["--app-dir", str(ROOT)]


def start_uvicorn(port: int, env: dict[str, str] | None = None, app: str = API_APP) -> subprocess.Popen[bytes]:
    """Start uvicorn on ``port`` from a folder outside the project, not waiting for it; ``stop`` it afterwards."""
    server = serve.start_uvicorn(app, env=env, port=port, options=_options(app), cwd=tempfile.gettempdir())
    _started[server.process.pid] = server
    return server.process


def stop(process: subprocess.Popen[bytes]) -> tuple[str, str]:
    """Stop a server from ``start_uvicorn``; return ``("", its log)`` (its messages and access log, in one)."""
    return "", _started.pop(process.pid).stop()


@contextmanager
def running_api(
    env: dict[str, str] | None = None,
    *,
    log: list[str] | None = None,
    timeout: float = 20,
    app: str = API_APP,
    workers: int = 1,
) -> Iterator[str]:
    """Yield the base URL of a uvicorn serving the API (or ``app``) once it answers; stop it afterwards."""
    options = _options(app)
    with serve.serving(app, env=env, workers=workers, options=options, timeout=timeout, log=log) as base_url:
        yield base_url
