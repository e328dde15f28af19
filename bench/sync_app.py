"""The heroes API as SQLModel's FastAPI tutorial writes it: a sync engine, ``def`` endpoints, ``yield`` session.

The baseline the async API (``heroes_lib.api``) is measured against. Same models, same responses, same
SQL (the hero is read with its team in one JOIN, as ``crud.get_hero_with_team`` does); only the sync
driver (sqlite3, psycopg, PyMySQL) and FastAPI's thread pool differ. Configured by the environment:

- ``BENCH_SYNC_DATABASE_URL``: a sync SQLAlchemy URL (``bench.app_settings.sync_url`` makes one from the course's).
- ``BENCH_SYNC_POOL_SIZE``: connections in the pool (no overflow). Unset: SQLAlchemy's default, 5 + 10 --
  the tutorial's setting, which deadlocks under 64 concurrent requests (see lesson 10).

    BENCH_SYNC_DATABASE_URL=sqlite:///.data/heroes.db uvicorn bench.sync_app:app
"""

from __future__ import annotations

import functools
import os
from collections.abc import Iterator
from typing import Annotated, Any

from fastapi import Depends, FastAPI, HTTPException, Query
from sqlalchemy.engine import URL, make_url
from sqlalchemy.orm import joinedload
from sqlmodel import Session, create_engine, select

from bench.app_settings import SYNC_DATABASE_URL_ENV as DATABASE_URL_ENV
from bench.app_settings import SYNC_POOL_SIZE_ENV as POOL_SIZE_ENV
from heroes_lib.models import Hero, HeroPublic, HeroPublicWithTeam


def make_sync_engine(url: str | URL, pool_size: int | None = None) -> Any:
    """The tutorial's ``create_engine`` (``check_same_thread=False`` for SQLite), optionally with a bigger pool."""
    parsed = make_url(url) if isinstance(url, str) else url
    connect_args = {"check_same_thread": False} if parsed.get_backend_name() == "sqlite" else {}
    options: dict[str, Any] = {} if pool_size is None else {"pool_size": pool_size, "max_overflow": 0}
    return create_engine(parsed, connect_args=connect_args, **options)


@functools.cache
def get_engine() -> Any:
    """The app's engine, built from the environment on the first request."""
    url = os.environ.get(DATABASE_URL_ENV)
    if not url:
        raise RuntimeError(f"set {DATABASE_URL_ENV} to a sync database URL, e.g. sqlite:///.data/heroes.db")
    pool_size = os.environ.get(POOL_SIZE_ENV)
    return make_sync_engine(url, int(pool_size) if pool_size else None)


def get_session() -> Iterator[Session]:
    with Session(get_engine()) as session:
        yield session


SessionDep = Annotated[Session, Depends(get_session)]


app = FastAPI(title="Heroes API (sync, tutorial style)")


@app.get("/heroes/", response_model=list[HeroPublic])
def read_heroes(session: SessionDep, offset: int = 0, limit: Annotated[int, Query(le=100)] = 100) -> Any:
    return session.exec(select(Hero).order_by(Hero.id).offset(offset).limit(limit)).all()


@app.get("/heroes/{hero_id}", response_model=HeroPublicWithTeam)
def read_hero(hero_id: int, session: SessionDep) -> Any:
    hero = session.exec(select(Hero).where(Hero.id == hero_id).options(joinedload(Hero.team))).first()
    if not hero:
        raise HTTPException(status_code=404, detail="Hero not found")
    return hero
