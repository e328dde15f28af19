"""Lesson 08's exercises: a migration written by hand, and one whose downgrade does not undo its upgrade.

Each check runs the learner's ``upgrade()`` and ``downgrade()`` as Alembic would, with ``alembic.op`` bound to a
``MigrationContext`` on a connection of its own, on fresh course tables holding a team and a hero, and reads the
``hero`` table back after each step.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from alembic.migration import MigrationContext
from alembic.operations import Operations
from sqlalchemy import func, inspect, select
from sqlalchemy.engine import Connection

from heroes_lib import crud
from heroes_lib.db import make_engine, make_sessionmaker
from heroes_lib.exercises import Exercise, Mistake, NotSolved
from heroes_lib.models import Hero, HeroCreate, TeamCreate
from heroes_lib.schema import reset_schema

Migration = Callable[[], Any]


@dataclass(frozen=True)
class HeroTable:
    """What the check reads back from the ``hero`` table: its columns (name -> (type, nullable)) and row count."""

    columns: dict[str, tuple[str, bool]]
    rows: int


@dataclass(frozen=True)
class Steps:
    """The ``hero`` table before the migration, after ``upgrade()`` and after ``downgrade()``."""

    before: HeroTable
    upgraded: HeroTable
    downgraded: HeroTable


def _read_hero_table(connection: Connection) -> HeroTable:
    columns = {
        column["name"]: (str(column["type"]).upper(), bool(column["nullable"]))
        for column in inspect(connection).get_columns("hero")
    }
    rows = connection.execute(select(func.count()).select_from(Hero)).scalar_one()
    return HeroTable(columns, rows)


@contextmanager
def _sqlite_foreign_keys_off(connection: Connection) -> Iterator[None]:
    # As migrations/env.py does: rebuilding a table (batch operations) must not cascade to the rows pointing to it.
    if connection.dialect.name != "sqlite":
        yield
        return
    connection.connection.cursor().execute("PRAGMA foreign_keys=OFF")
    try:
        yield
    finally:
        connection.connection.cursor().execute("PRAGMA foreign_keys=ON")


def _migrate(connection: Connection, upgrade: Migration, downgrade: Migration) -> Steps:
    """Run ``upgrade()``, then ``downgrade()``, with ``alembic.op`` bound to this connection; read hero each time."""
    with _sqlite_foreign_keys_off(connection):
        before = _read_hero_table(connection)
        connection.commit()
        context = MigrationContext.configure(connection)
        results = []
        for step in (upgrade, downgrade):
            with connection.begin(), Operations.context(context):
                step()
            results.append(_read_hero_table(connection))
            connection.commit()
    return Steps(before, results[0], results[1])


async def run_migration(upgrade: Migration, downgrade: Migration) -> Steps:
    """Fresh course tables with a team and a hero, then the learner's ``upgrade()`` and ``downgrade()``."""
    engine = make_engine()
    try:
        await reset_schema(engine)
        async with make_sessionmaker(engine)() as session:
            team = await crud.create_team(session, TeamCreate(name="Preventers", headquarters="Sharp Tower"))
            await crud.create_hero(session, HeroCreate(name="Rusty-Man", secret_name="Tommy Sharp", team_id=team.id))
        async with engine.connect() as connection:
            steps = await connection.run_sync(_migrate, upgrade, downgrade)
        await reset_schema(engine)  # the tables as the models declare them, whatever the migration left
        return steps
    finally:
        await engine.dispose()


def _is_string(column: tuple[str, bool], length: int) -> bool:
    type_name, _nullable = column
    return "CHAR" in type_name and f"({length})" in type_name


def _check_added(steps: Steps, name: str, length: int) -> None:
    column = steps.upgraded.columns.get(name)
    if column is None:
        raise NotSolved(
            f'After the upgrade the hero table has no `{name}` column: add it with `op.add_column("hero", ...)` '
            '(or `batch_op.add_column(...)` inside `with op.batch_alter_table("hero") as batch_op:`).'
        )
    if not _is_string(column, length):
        raise NotSolved(
            f"`{name}` is a {column[0]}, not a string of {length} characters: `sa.String(length={length})`."
        )
    if not column[1]:
        raise NotSolved(f"`{name}` must be nullable: the heroes already in the table have none.")


def _check_rows_kept(steps: Steps) -> None:
    if not steps.before.rows == steps.upgraded.rows == steps.downgraded.rows:
        raise NotSolved("The migration lost rows of hero: adding and dropping a column keeps every row.")


def _check_undone(steps: Steps) -> None:
    left = sorted(set(steps.downgraded.columns) - set(steps.before.columns))
    if left:
        names = ", ".join(f"`{name}`" for name in left)
        raise NotSolved(
            f"After the downgrade the hero table still has {names}: a downgrade must undo everything its upgrade "
            f'did (`op.drop_column("hero", ...)` for each column added).'
        )
    if steps.downgraded.columns != steps.before.columns:
        raise NotSolved(
            "After the downgrade the hero table's columns differ from before the upgrade: undo only what it did."
        )


async def _verify_nickname(upgrade_nickname: Migration, downgrade_nickname: Migration) -> str:
    steps = await run_migration(upgrade_nickname, downgrade_nickname)
    if steps.upgraded.columns == steps.before.columns:
        raise NotSolved(
            "`upgrade_nickname()` changed nothing: write its body in place of the `...` "
            '(`op.add_column("hero", sa.Column("nickname", ...))`).'
        )
    _check_added(steps, "nickname", 100)
    extra = sorted(set(steps.upgraded.columns) - set(steps.before.columns) - {"nickname"})
    if extra:
        raise NotSolved(f"`upgrade_nickname()` added more than the nickname ({', '.join(extra)}): add only `nickname`.")
    _check_undone(steps)
    _check_rows_kept(steps)
    return (
        "upgrade_nickname() added a nullable VARCHAR(100) and kept the heroes; downgrade_nickname() put the table back."
    )


_NICKNAME_UPGRADE = '''\
def upgrade_nickname() -> None:
    """Add a nickname to heroes."""
    op.add_column("hero", sa.Column("nickname", sa.String(length=100), nullable=True))


'''

exercise_1 = Exercise(
    number=1,
    names=("upgrade_nickname", "downgrade_nickname"),
    verify=_verify_nickname,
    mistakes=(
        Mistake(
            code=_NICKNAME_UPGRADE
            + '''\
def downgrade_nickname() -> None:
    """Remove the nickname."""
    ...
''',
            hint="still has `nickname`",
        ),
    ),
)


async def _verify_motto(upgrade_motto: Migration, downgrade_motto: Migration) -> str:
    steps = await run_migration(upgrade_motto, downgrade_motto)
    for name, length in (("nickname", 100), ("motto", 200)):
        if name not in steps.upgraded.columns:
            raise NotSolved(
                f"After the upgrade the hero table has no `{name}`: the upgrade was right, fix the downgrade instead."
            )
        _check_added(steps, name, length)
    _check_undone(steps)
    _check_rows_kept(steps)
    return "downgrade_motto() now drops both columns that upgrade_motto() added: the table is back as it was."


_MOTTO_UPGRADE = '''\
def upgrade_motto() -> None:
    """Add a nickname and a motto to heroes."""
    with op.batch_alter_table("hero") as batch_op:
        batch_op.add_column(sa.Column("nickname", sa.String(length=100), nullable=True))
        batch_op.add_column(sa.Column("motto", sa.String(length=200), nullable=True))


'''

#: The broken revision the second exercise starts from: its downgrade forgets the motto.
BROKEN_MOTTO = (
    _MOTTO_UPGRADE
    + '''\
def downgrade_motto() -> None:
    """Remove the nickname and the motto."""
    with op.batch_alter_table("hero") as batch_op:
        batch_op.drop_column("nickname")
'''
)

exercise_2 = Exercise(
    number=2,
    names=("upgrade_motto", "downgrade_motto"),
    verify=_verify_motto,
    mistakes=(
        Mistake(
            code='''\
def upgrade_motto() -> None:
    """Add a nickname and a motto to heroes."""
    with op.batch_alter_table("hero") as batch_op:
        batch_op.add_column(sa.Column("nickname", sa.String(length=100), nullable=True))


def downgrade_motto() -> None:
    """Remove the nickname and the motto."""
    with op.batch_alter_table("hero") as batch_op:
        batch_op.drop_column("nickname")
''',
            hint="fix the downgrade instead",
        ),
    ),
)

EXERCISES = (exercise_1, exercise_2)
