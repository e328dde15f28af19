"""Kept for tests written against it before ``heroes_lib.serve`` existed: use ``heroes_lib.serve`` instead.

``running_api`` is ``heroes_lib.serve.serving`` with the arguments those tests pass; an app of the tests' own
(``tests.reliability.slow_write_api``) is imported from the checkout.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from heroes_lib.serve import API_APP, free_port, serving

ROOT = Path(__file__).resolve().parent.parent

__all__ = ["API_APP", "ROOT", "free_port", "running_api"]


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
    options = [] if app == API_APP else ["--app-dir", str(ROOT)]
    with serving(app, env=env, workers=workers, options=options, timeout=timeout, log=log) as base_url:
        yield base_url
