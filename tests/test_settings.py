"""heroes_lib.settings: the URL comes from HEROES_DATABASE_URL, bad ones fail clearly, passwords never show."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy.engine import make_url

from heroes_lib import settings
from heroes_lib.settings import (
    ACCEPTED_FORMS,
    DATABASE_URL_ENV,
    MAX_OVERFLOW_ENV,
    POOL_SIZE_ENV,
    POOL_TIMEOUT_ENV,
    DatabaseURLError,
    PoolSettingError,
    PoolSettings,
    database_url,
    default_data_dir,
    default_database_url,
    display_url,
    mask_password,
    parse_database_url,
    pool_settings,
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
        # Malformed, with a password that a pattern stopping at a space or at the first "@" would show in part.
        ("postgresql+asyncpg://hero:s3cr3t pa55@h:x/db", "is not a valid database URL"),
        ("postgresql+asyncpg://hero:s3cr3t@pa55 x@h:x/db", "is not a valid database URL"),
        ("postgresql+asyncpg://u:s3cr3t@pa55@h/db", "write an '@' in the password as %40"),
        (f"mysql+pymysql://u:{SECRET}@h/db?password={SECRET}", "with mysql use 'mysql+aiomysql'"),
        (f"postgresql://u@h/db?charset=utf8&password={SECRET}", "with postgresql use 'postgresql+asyncpg'"),
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
    for part in ("s3cr3t", "pa55"):
        assert part not in message
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


@pytest.mark.parametrize(
    "url",
    [
        f"postgresql+asyncpg://hero@h/db?password={SECRET}",
        f"mysql+aiomysql://hero@h/db?charset=utf8mb4&password={SECRET}",
    ],
)
def test_a_password_in_the_query_is_accepted_and_never_shown(url: str) -> None:
    # asyncpg and aiomysql both use ?password=; heroes_lib keeps it as the URL's password, which every display hides.
    parsed = parse_database_url(url)
    assert parsed.password == SECRET and "password" not in parsed.query
    assert parsed.render_as_string(hide_password=False).startswith(f"{parsed.drivername}://hero:{SECRET}@h/db")
    for shown in (repr(parsed), str(parsed), display_url(parsed), display_url(url), display_url(make_url(url))):
        assert SECRET not in shown, shown
    assert display_url(make_url(url)).endswith("password=***")
    assert display_url(url).endswith("password=***")


def test_a_password_with_an_at_sign_must_be_escaped() -> None:
    assert parse_database_url("postgresql+asyncpg://u:Hunter%402pw@h/db").password == "Hunter@2pw"
    with pytest.raises(DatabaseURLError, match="%40") as raised:
        parse_database_url("postgresql+asyncpg://u:Hunter@2pw@h/db")
    assert "Hunter" not in str(raised.value) and "2pw" not in str(raised.value)
    assert "postgresql+asyncpg://u:***@h/db" in str(raised.value)


def test_mask_password_in_free_text() -> None:
    text = f"failed: mysql+aiomysql://root:{SECRET}@h/db and postgresql+asyncpg://u@h/db"
    assert mask_password(text) == "failed: mysql+aiomysql://root:***@h/db and postgresql+asyncpg://u@h/db"


@pytest.mark.parametrize(
    ("text", "masked"),
    [
        # An unescaped "@" in the password: masked up to the URL's last "@".
        ("at postgresql+asyncpg://u:Hunter@2pw@h/db now", "at postgresql+asyncpg://u:***@h/db now"),
        ("'mysql+aiomysql://u:a@b@c@h:3306/db'", "'mysql+aiomysql://u:***@h:3306/db'"),
        # A password in the query string.
        (
            "url postgresql+asyncpg://u@h/db?password=Hunter2pw failed",
            "url postgresql+asyncpg://u@h/db?password=*** failed",
        ),
        (
            "mysql+aiomysql://u@h/db?password=Hunter2pw&charset=utf8mb4",
            "mysql+aiomysql://u@h/db?password=***&charset=utf8mb4",
        ),
        ("postgresql+asyncpg://u:Hunter2pw@h/db?password=Hunter2pw", "postgresql+asyncpg://u:***@h/db?password=***"),
        # No password: unchanged.
        ("postgresql+asyncpg://u@h:5432/db?sslmode=x", "postgresql+asyncpg://u@h:5432/db?sslmode=x"),
        ("sqlite+aiosqlite:////tmp/x.db", "sqlite+aiosqlite:////tmp/x.db"),
    ],
)
def test_mask_password_in_free_text_finds_every_form(text: str, masked: str) -> None:
    assert mask_password(text) == masked
    assert "Hunter" not in mask_password(text) and "2pw" not in mask_password(text)


@pytest.mark.parametrize(
    "url",
    [
        "postgresql+asyncpg://hero:Hunter2 pw@h:x/db",
        "postgresql+asyncpg://hero:Hunter@2 pw@h/db",
        "postgresql+asyncpg://hero@h/db?password=Hunter2 pw#x&sslmode=disable",
    ],
)
def test_display_url_of_a_single_url_masks_the_whole_password(url: str) -> None:
    # One URL, valid or not: everything between "user:" and the last "@" (and a password= value) is masked.
    shown = display_url(url)
    assert "Hunter" not in shown and "2pw" not in shown and " pw" not in shown
    assert shown.startswith("postgresql+asyncpg://hero") and "***" in shown


def test_a_bad_url_stops_pytest_with_one_clear_message() -> None:
    # conftest.py reads HEROES_DATABASE_URL when pytest starts: a mistake there is a usage error, not a traceback.
    # Plugins are not loaded (nor the addopts that need them): only the root conftest matters here, and pytest
    # then starts in well under a second instead of four.
    env = {**os.environ, DATABASE_URL_ENV: f"postgresql://hero:{SECRET}@h/db", "PYTEST_DISABLE_PLUGIN_AUTOLOAD": "1"}
    command = ["-m", "pytest", "-o", "addopts=", "-p", "no:cacheprovider", "tests/test_settings.py", "-k", "none"]
    run = subprocess.run(
        [sys.executable, *command],
        cwd=Path(settings.__file__).resolve().parent.parent,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    output = run.stdout + run.stderr
    assert run.returncode == pytest.ExitCode.USAGE_ERROR, output
    assert f"ERROR: {DATABASE_URL_ENV}='postgresql://hero:***@h/db' uses the driver 'postgresql'" in output
    assert "INTERNALERROR" not in output and "Traceback" not in output and SECRET not in output


DEFAULTS = PoolSettings(pool_size=10, max_overflow=5, pool_timeout=30)


@pytest.fixture
def pool_env(monkeypatch: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    for name in (POOL_SIZE_ENV, MAX_OVERFLOW_ENV, POOL_TIMEOUT_ENV):
        monkeypatch.delenv(name, raising=False)
    return monkeypatch


def test_pool_variables_unset_or_empty_keep_the_defaults(pool_env: pytest.MonkeyPatch) -> None:
    assert pool_settings(DEFAULTS) == DEFAULTS
    pool_env.setenv(POOL_SIZE_ENV, "")
    pool_env.setenv(POOL_TIMEOUT_ENV, "  ")
    assert pool_settings(DEFAULTS) == DEFAULTS


def test_pool_variables_are_read(pool_env: pytest.MonkeyPatch) -> None:
    pool_env.setenv(POOL_SIZE_ENV, " 20 ")
    pool_env.setenv(MAX_OVERFLOW_ENV, "0")
    pool_env.setenv(POOL_TIMEOUT_ENV, "2.5")
    assert pool_settings(DEFAULTS) == PoolSettings(pool_size=20, max_overflow=0, pool_timeout=2.5)


@pytest.mark.parametrize(
    ("name", "value", "accepted"),
    [
        (POOL_SIZE_ENV, "ten", "a whole number of connections, 1 or more"),
        (POOL_SIZE_ENV, "0", "a whole number of connections, 1 or more"),
        (POOL_SIZE_ENV, "-3", "a whole number of connections, 1 or more"),
        (POOL_SIZE_ENV, "2.5", "a whole number of connections, 1 or more"),
        (MAX_OVERFLOW_ENV, "-1", "a whole number of connections, 0 or more"),
        (MAX_OVERFLOW_ENV, "5x", "a whole number of connections, 0 or more"),
        (POOL_TIMEOUT_ENV, "0", "a number of seconds above 0"),
        (POOL_TIMEOUT_ENV, "-1", "a number of seconds above 0"),
        (POOL_TIMEOUT_ENV, "nan", "a number of seconds above 0"),
        (POOL_TIMEOUT_ENV, "30s", "a number of seconds above 0"),
    ],
)
def test_a_bad_pool_variable_fails_naming_it_and_what_it_accepts(
    pool_env: pytest.MonkeyPatch, name: str, value: str, accepted: str
) -> None:
    pool_env.setenv(name, value)
    with pytest.raises(PoolSettingError) as raised:
        pool_settings(DEFAULTS)
    message = str(raised.value)
    assert message.startswith(f"{name}={value!r} ")
    assert f"accepted: {accepted}" in message
    assert isinstance(raised.value, ValueError)
