"""Async create, read, list, update and delete for heroes and teams.

Every function takes an ``AsyncSession`` and commits its own change, as the SQLModel tutorial does.
A change the database refuses (a duplicate team name, a ``team_id`` with no team) is rolled back and
raised as ``ConflictError`` with a message of our own, the same on every backend, that says which rule
the change broke.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import TypeVar

from sqlalchemy import Insert, insert, inspect
from sqlalchemy.dialects import mysql, postgresql, sqlite
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import joinedload, selectinload
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from heroes_lib.db_errors import ConstraintKind, violated_constraint
from heroes_lib.models import (
    MAX_INTEGER,
    Hero,
    HeroCreate,
    HeroUpdate,
    Team,
    TeamCreate,
    TeamUpdate,
)

DEFAULT_LIMIT = 100
RowT = TypeVar("RowT", Hero, Team)


class ConflictError(Exception):
    """The database refused a change because it conflicts with existing data; nothing was written."""


#: What a refusal of each kind says when the caller expected another (e.g. validation was bypassed).
_REFUSALS: dict[ConstraintKind | None, str] = {
    "foreign key": "the change names a row that does not exist",
    "unique": "the change repeats a value that must be unique",
    "check": "a value breaks a rule of the table (a CHECK constraint: an empty name or a negative age)",
    "not null": "a required field is null",
    None: "the change conflicts with existing data",
}


@dataclass(frozen=True)
class ExpectedConflict:
    """The refusal a change can be expected to meet: the kind of constraint, and what to tell the caller then."""

    constraint: ConstraintKind
    message: str

    def explain(self, error: IntegrityError) -> str:
        """``message`` if the database refused the change for that constraint; otherwise what it did refuse."""
        failed = violated_constraint(error)
        return self.message if failed == self.constraint else _REFUSALS[failed]


def unknown_team_conflict(team_id: int | None) -> ExpectedConflict:
    """The refusal a hero change meets when its ``team_id`` names no team."""
    return ExpectedConflict("foreign key", f"team_id {team_id} does not name an existing team")


def _team_conflict(name: str | None) -> ExpectedConflict:
    return ExpectedConflict("unique", f"a team named {name!r} already exists")


def _storable_id(row_id: int) -> bool:
    # Ids are INTEGER columns: a number outside that range names no row, and asyncpg refuses to send it
    # (an error, not an empty result), so it is answered without a query.
    return -MAX_INTEGER - 1 <= row_id <= MAX_INTEGER


def unstorable_team_id(team_ids: Iterable[int | None]) -> int | None:
    """The first ``team_id`` outside the INTEGER range: it names no team, so the change is refused unsent."""
    return next((team_id for team_id in team_ids if team_id is not None and not _storable_id(team_id)), None)


def _pending_team_ids(session: AsyncSession) -> Iterator[int | None]:
    # The values as set on the objects (state.dict): reading an expired attribute would load it, which is IO.
    for row in (*session.new, *session.dirty):
        if isinstance(row, Hero):
            yield inspect(row).dict.get("team_id")


async def commit_or_conflict(session: AsyncSession, conflict: ExpectedConflict) -> None:
    """Commit; if the database refuses the change, roll back and raise ``ConflictError``.

    ``conflict`` explains the refusal the change can be expected to meet; a refusal for another kind of
    constraint is explained as that kind.
    """
    unknown_team = unstorable_team_id(_pending_team_ids(session))
    if unknown_team is not None:
        await session.rollback()
        raise ConflictError(unknown_team_conflict(unknown_team).message)
    try:
        await session.commit()
    except IntegrityError as error:
        await session.rollback()
        raise ConflictError(conflict.explain(error)) from None


# Heroes


async def _get_by_id(session: AsyncSession, model: type[RowT], row_id: int) -> RowT | None:
    return await session.get(model, row_id) if _storable_id(row_id) else None


async def create_hero(session: AsyncSession, hero: HeroCreate) -> Hero:
    """Insert a hero and return it with its new ``id``. Raises ``ConflictError`` for an unknown team."""
    row = Hero.model_validate(hero)
    session.add(row)
    await commit_or_conflict(session, unknown_team_conflict(hero.team_id))
    return row


async def get_hero(session: AsyncSession, hero_id: int) -> Hero | None:
    """The hero with this id, or ``None``."""
    return await _get_by_id(session, Hero, hero_id)


async def list_heroes(session: AsyncSession, offset: int = 0, limit: int = DEFAULT_LIMIT) -> Sequence[Hero]:
    """Heroes ordered by id (a stable order, so pages never overlap or skip), ``limit`` from ``offset``."""
    statement = select(Hero).order_by(col(Hero.id)).offset(offset).limit(limit)
    return (await session.exec(statement)).all()


async def update_hero(session: AsyncSession, hero_id: int, changes: HeroUpdate) -> Hero | None:
    """Apply the fields set in ``changes``; ``None`` if there is no such hero."""
    row = await _get_by_id(session, Hero, hero_id)
    if row is None:
        return None
    # exclude_unset: only the fields the caller sent change; the others keep their stored values.
    row.sqlmodel_update(changes.model_dump(exclude_unset=True))
    session.add(row)
    await commit_or_conflict(session, unknown_team_conflict(changes.team_id))
    return row


async def delete_hero(session: AsyncSession, hero_id: int) -> bool:
    """Delete the hero; ``True`` if it existed."""
    row = await _get_by_id(session, Hero, hero_id)
    if row is None:
        return False
    await session.delete(row)
    await session.commit()
    return True


async def get_hero_with_team(session: AsyncSession, hero_id: int) -> Hero | None:
    """The hero with its ``team`` loaded in the same statement (a JOIN), or ``None``."""
    if not _storable_id(hero_id):
        return None
    with_team = joinedload(Hero.team)  # type: ignore[arg-type]  # SQLModel types a relationship as its value
    statement = select(Hero).where(Hero.id == hero_id).options(with_team)
    return (await session.exec(statement)).first()


async def list_heroes_with_team(session: AsyncSession, offset: int = 0, limit: int = DEFAULT_LIMIT) -> Sequence[Hero]:
    """Like ``list_heroes``, with each hero's ``team`` loaded: one statement whatever the page size."""
    with_team = joinedload(Hero.team)  # type: ignore[arg-type]  # SQLModel types a relationship as its value
    statement = select(Hero).options(with_team).order_by(col(Hero.id)).offset(offset).limit(limit)
    return (await session.exec(statement)).all()


async def create_heroes_bulk(session: AsyncSession, heroes: Iterable[HeroCreate]) -> int:
    """Insert many heroes in one transaction and return how many were inserted.

    One Core ``INSERT`` with every row as a parameter set: the driver batches it. Every row carries
    every column (``None`` included), so the rows are not split into one statement per set of keys, as
    the ORM's bulk insert does for optional fields left out. All rows land or none do.
    """
    rows = [hero.model_dump() for hero in heroes]
    if not rows:
        return 0
    unknown_team = unstorable_team_id(row["team_id"] for row in rows)
    if unknown_team is not None:
        raise ConflictError(f"{unknown_team_conflict(unknown_team).message}; no hero was inserted")
    try:
        table = Hero.__table__  # type: ignore[attr-defined]  # set by SQLModel at class creation, not declared
        await session.exec(insert(table), params=rows)
        await session.commit()
    except IntegrityError as error:
        await session.rollback()
        conflict = ExpectedConflict("foreign key", "a hero names a team_id that does not exist")
        raise ConflictError(f"{conflict.explain(error)}; no hero was inserted") from None
    return len(rows)


# Teams


async def create_team(session: AsyncSession, team: TeamCreate) -> Team:
    """Insert a team and return it with its new ``id``. Raises ``ConflictError`` for a duplicate name."""
    row = Team.model_validate(team)
    session.add(row)
    await commit_or_conflict(session, _team_conflict(team.name))
    return row


async def get_or_create_team(session: AsyncSession, team: TeamCreate) -> Team:
    """The team named ``team.name``, inserted from ``team`` if there is none yet; one row even when requests race.

    Reading first and inserting if nothing was found fails when two requests do it at once: both find nothing,
    and the second INSERT breaks the unique name. Here the INSERT comes first and the database skips it when the
    name exists (``ON CONFLICT DO NOTHING`` on PostgreSQL and SQLite, a no-op ``ON DUPLICATE KEY UPDATE`` on
    MySQL/MariaDB), waiting for a concurrent insert of the same name to commit or roll back; then the row is read.
    An existing team keeps its headquarters. Raises ``ConflictError`` if the row breaks another rule.
    """
    values = team.model_dump()
    connection = await session.connection()
    statement: Insert
    if connection.dialect.name == "mysql":
        statement = mysql.insert(Team).values(values)
        statement = statement.on_duplicate_key_update(name=statement.inserted.name)  # changes nothing
    else:
        dialect_insert = postgresql.insert if connection.dialect.name == "postgresql" else sqlite.insert
        statement = dialect_insert(Team).values(values).on_conflict_do_nothing(index_elements=[Team.name])
    try:
        await session.exec(statement)
    except IntegrityError as error:
        await session.rollback()
        raise ConflictError(ExpectedConflict("unique", _team_conflict(team.name).message).explain(error)) from None
    row = (await session.exec(select(Team).where(Team.name == team.name))).one()
    await session.commit()
    return row


async def get_team(session: AsyncSession, team_id: int) -> Team | None:
    """The team with this id, or ``None``."""
    return await _get_by_id(session, Team, team_id)


async def list_teams(session: AsyncSession, offset: int = 0, limit: int = DEFAULT_LIMIT) -> Sequence[Team]:
    """Teams ordered by id, ``limit`` from ``offset``."""
    statement = select(Team).order_by(col(Team.id)).offset(offset).limit(limit)
    return (await session.exec(statement)).all()


async def update_team(session: AsyncSession, team_id: int, changes: TeamUpdate) -> Team | None:
    """Apply the fields set in ``changes``; ``None`` if there is no such team."""
    row = await _get_by_id(session, Team, team_id)
    if row is None:
        return None
    row.sqlmodel_update(changes.model_dump(exclude_unset=True))  # only the fields sent
    session.add(row)
    await commit_or_conflict(session, _team_conflict(changes.name))
    return row


async def delete_team(session: AsyncSession, team_id: int) -> bool:
    """Delete the team (its heroes stay, without a team); ``True`` if it existed."""
    row = await _get_by_id(session, Team, team_id)
    if row is None:
        return False
    await session.delete(row)
    await session.commit()
    return True


async def get_team_with_heroes(session: AsyncSession, team_id: int) -> Team | None:
    """The team with its ``heroes`` (ordered by id) loaded by one extra ``SELECT ... IN``, or ``None``."""
    if not _storable_id(team_id):
        return None
    with_heroes = selectinload(Team.heroes)  # type: ignore[arg-type]  # SQLModel types a relationship as its value
    statement = select(Team).where(Team.id == team_id).options(with_heroes)
    return (await session.exec(statement)).first()
