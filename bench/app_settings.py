"""How the benchmark tells the two served apps what to use: environment variables, and the sync URL.

Kept apart from the apps themselves so that the benchmark process does not import FastAPI to start them.
"""

from __future__ import annotations

from sqlalchemy.engine import URL, make_url

#: bench.sync_app: a sync SQLAlchemy URL, and its pool size (unset: SQLAlchemy's default, 5 + 10).
SYNC_DATABASE_URL_ENV = "BENCH_SYNC_DATABASE_URL"
SYNC_POOL_SIZE_ENV = "BENCH_SYNC_POOL_SIZE"
#: bench.async_app: its pool size (unset: heroes_lib.api.app as it is).
ASYNC_POOL_SIZE_ENV = "BENCH_ASYNC_POOL_SIZE"

#: The sync driver for each of the course's async ones.
SYNC_DRIVERS = {"sqlite": "sqlite", "postgresql": "postgresql+psycopg", "mysql": "mysql+pymysql"}


def sync_url(async_url: str | URL) -> URL:
    """The same database through a sync driver: ``postgresql+asyncpg://...`` -> ``postgresql+psycopg://...``."""
    url = make_url(async_url) if isinstance(async_url, str) else async_url
    sync = url.set(drivername=SYNC_DRIVERS[url.get_backend_name()])
    if url.get_backend_name() == "mysql":
        sync = sync.update_query_dict({"charset": "utf8mb4"})
    return sync
