"""heroes_lib.settings: the URL comes from HEROES_DATABASE_URL, bad ones fail clearly, passwords never show."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
from sqlalchemy.engine import make_url

from heroes_lib import settings
from heroes_lib.settings import (
    ACCEPTED_FORMS,
    DATABASE_URL_ENV,
    DatabaseURLError,
    database_url,
    default_data_dir,
    default_database_url,
    display_url,
    mask_password,
    parse_database_url,
)

pytestmark = pytest.mark.no_database

SECRET = "s3cr3t-pa55"


@pytest.mark.parametrize(
    "url",
    [
        "sqlite+aiosqlite:///relative.db",
        "sqlite+aiosqlite:////tmp/absolute.db",
        "sqlite+aiosqlite://",
        "postgresql+asyncpg://postgres@127.0.0.1:5432/test",
        f"postgresql+asyncpg://user:{SECRET}@db.example:5432/heroes",
        "mysql+aiomysql://root@127.0.0.1:3306/test",
        f"mysql+aiomysql://user:{SECRET}@db.example/heroes?charset=utf8mb4",
    ],
)
def test_accepts_the_three_async_drivers(url: str) -> None:
    assert parse_database_url(url) == make_url(url)


@pytest.mark.parametrize(
    ("url", "problem"),
    [
        ("sqlite:///heroes.db", "driver 'sqlite'; with sqlite use 'sqlite+aiosqlite'"),
        (f"postgresql://u:{SECRET}@h/db", "with postgresql use 'postgresql+asyncpg'"),
        (f"postgresql+psycopg2://u:{SECRET}@h/db", "driver 'postgresql+psycopg2'"),
        (f"mysql+pymysql://u:{SECRET}@h/db", "with mysql use 'mysql+aiomysql'"),
        (f"oracle+oracledb://u:{SECRET}@h/db", "unsupported database 'oracle'"),
        (f"postgresql+asyncpg://u:{SECRET}@h", "names no database"),
        ("not a url", "is not a valid database URL"),
        (f"postgresql+asyncpg://u:{SECRET}@h:port/db", "is not a valid database URL"),
        ("   ", "is empty"),
    ],
)
def test_rejects_bad_urls_with_one_clear_error(url: str, problem: str) -> None:
    with pytest.raises(DatabaseURLError) as raised:
        parse_database_url(url)
    message = str(raised.value)
    assert message.startswith(f"{DATABASE_URL_ENV}=")
    assert problem in message
    for form in ACCEPTED_FORMS:
        assert form in message
    assert SECRET not in message
    # No driver or parser traceback chained to it.
    assert raised.value.__cause__ is None
    assert raised.value.__context__ is None or raised.value.__suppress_context__


def test_unset_or_empty_means_the_default_sqlite_file(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(DATABASE_URL_ENV, raising=False)
    assert database_url() == default_database_url()
    monkeypatch.setenv(DATABASE_URL_ENV, "")
    assert database_url() == default_database_url()
    assert default_database_url().drivername == "sqlite+aiosqlite"


def test_reads_the_environment_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(DATABASE_URL_ENV, "postgresql+asyncpg://postgres@127.0.0.1:5432/other")
    assert database_url().database == "other"
    monkeypatch.setenv(DATABASE_URL_ENV, f"mysql://root:{SECRET}@h/db")
    with pytest.raises(DatabaseURLError, match=DATABASE_URL_ENV) as raised:
        database_url()
    assert SECRET not in str(raised.value)


def test_default_database_is_in_a_git_ignored_folder_of_the_checkout() -> None:
    folder = default_data_dir()
    root = Path(settings.__file__).resolve().parent.parent
    assert folder == root / ".data"
    ignored = subprocess.run(["git", "check-ignore", "-q", str(folder / "heroes.db")], cwd=root, check=False).returncode
    assert ignored == 0


def test_installed_copy_uses_the_user_data_folder(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setattr(settings, "__file__", str(tmp_path / "site-packages" / "heroes_lib" / "settings.py"))
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))
    assert default_data_dir() == tmp_path / "data" / "heroes_course"


def test_display_url_masks_the_password() -> None:
    url = f"postgresql+asyncpg://hero:{SECRET}@db.example:5432/heroes"
    for shown in (display_url(url), display_url(make_url(url)), repr(make_url(url))):
        assert SECRET not in shown
        assert "hero:***@db.example" in shown
    assert display_url("sqlite+aiosqlite:///x.db") == "sqlite+aiosqlite:///x.db"


def test_mask_password_in_free_text() -> None:
    text = f"failed: mysql+aiomysql://root:{SECRET}@h/db and postgresql+asyncpg://u@h/db"
    assert mask_password(text) == "failed: mysql+aiomysql://root:***@h/db and postgresql+asyncpg://u@h/db"
