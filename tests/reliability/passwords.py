"""A URL of the scratch database with a password in it that the server accepts, for the tests of secrets.

PostgreSQL here trusts loopback connections, so it accepts any password for its own user. MariaDB checks
passwords: a user identified by that password is created for the test (its name carries the process id,
so concurrent runs on one server keep apart) and dropped afterwards. A SQLite URL has no password: the
tests that need one are skipped there, and only there.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Literal

import pytest
from sqlalchemy import text
from sqlalchemy.engine import URL
from sqlalchemy.pool import NullPool

from heroes_lib.db import make_engine
from heroes_lib.settings import database_url

#: Where a URL can carry the password: ``user:password@host``, or ``?password=...`` (both drivers accept it).
PasswordForm = Literal["userinfo", "query"]
PASSWORD_FORMS: tuple[PasswordForm, ...] = ("userinfo", "query")


async def _execute_admin(url: URL, statements: list[str]) -> None:
    engine = make_engine(url, poolclass=NullPool, isolation_level="AUTOCOMMIT")
    try:
        async with engine.connect() as connection:
            for statement in statements:
                await connection.execute(text(statement))
    finally:
        await engine.dispose()


def with_password(url: URL, password: str, form: PasswordForm) -> str:
    """``url`` with ``password`` in the given place, as text with the password shown (as a user would write it)."""
    if form == "userinfo":
        return url.set(password=password).render_as_string(hide_password=False)
    return url.set(password=None).update_query_dict({"password": password}).render_as_string(hide_password=False)


@contextmanager
def url_with_password(password: str, form: PasswordForm = "userinfo") -> Iterator[str]:
    """The scratch database's URL (``HEROES_DATABASE_URL``) with ``password`` in it, which the server accepts."""
    configured = database_url()
    backend = configured.get_backend_name()
    if backend == "sqlite":
        pytest.skip("a SQLite URL has no password")
    if backend == "postgresql":
        yield with_password(configured, password, form)
        return
    user = f"heroes_secret_{os.getpid()}"
    drop_user = f"DROP USER IF EXISTS '{user}'@'%'"
    grant = [
        drop_user,
        f"CREATE USER '{user}'@'%' IDENTIFIED BY '{password}'",
        f"GRANT ALL PRIVILEGES ON `{configured.database}`.* TO '{user}'@'%'",
    ]
    asyncio.run(_execute_admin(configured, grant))
    try:
        yield with_password(configured.set(username=user), password, form)
    finally:
        asyncio.run(_execute_admin(configured, [drop_user]))
