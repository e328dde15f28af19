"""Async create, read, list, update and delete for heroes and teams.

Every function takes an ``AsyncSession`` and commits its own change, as the SQLModel tutorial does.
A change the database refuses (a duplicate team name, a ``team_id`` with no team) is rolled back and
raised as ``ConflictError`` with a message of our own, the same on every backend, that says which rule
the change broke.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

from sqlalchemy import delete, insert, inspect, update
from sqlalchemy.exc import IntegrityError, OperationalError
from sqlalchemy.orm import joinedload, selectinload
from sqlalchemy.orm.attributes import set_committed_value
from sqlmodel import SQLModel, col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from heroes_lib.db import ConstraintKind, violated_constraint
from heroes_lib.models import (
    MAX_INTEGER,
    Hero,
    HeroCreate,
    HeroPowerLink,
    HeroPublic,
    HeroUpdate,
    Power,
    PowerCreate,
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
class _Conflict:
    """The refusal a change can be expected to meet: the kind of constraint, and what to tell the caller then."""

    constraint: ConstraintKind
    message: str

    def explain(self, error: IntegrityError) -> str:
        """``message`` if the database refused the change for that constraint; otherwise what it did refuse."""
        failed = violated_constraint(error)
        return self.message if failed == self.constraint else _REFUSALS[failed]


def _hero_conflict(team_id: int | None) -> _Conflict:
    return _Conflict("foreign key", f"team_id {team_id} does not name an existing team")


def _team_conflict(name: str | None) -> _Conflict:
    return _Conflict("unique", f"a team named {name!r} already exists")


def _storable_id(row_id: int) -> bool:
    # Ids are INTEGER columns: a number outside that range names no row, and asyncpg refuses to send it
    # (an error, not an empty result), so it is answered without a query.
    return -MAX_INTEGER - 1 <= row_id <= MAX_INTEGER


def _unstorable_team_id(team_ids: Iterable[int | None]) -> int | None:
    """The first ``team_id`` outside the INTEGER range: it names no team, so the change is refused unsent."""
    return next((team_id for team_id in team_ids if team_id is not None and not _storable_id(team_id)), None)


def _pending_team_ids(session: AsyncSession) -> Iterator[int | None]:
    # The values as set on the objects (state.dict): reading an expired attribute would load it, which is IO.
    for row in (*session.new, *session.dirty):
        if isinstance(row, Hero):
            yield inspect(row).dict.get("team_id")


async def _commit(session: AsyncSession, conflict: _Conflict) -> None:
    """Commit; if the database refuses the change, roll back and raise ``ConflictError``.

    ``conflict`` explains the refusal the change can be expected to meet; a refusal for another kind of
    constraint is explained as that kind.
    """
    unknown_team = _unstorable_team_id(_pending_team_ids(session))
    if unknown_team is not None:
        await session.rollback()
        raise ConflictError(_hero_conflict(unknown_team).message)
    try:
        await session.commit()
    except IntegrityError as error:
        await session.rollback()
        raise ConflictError(conflict.explain(error)) from None


async def _apply_update(session: AsyncSession, row: SQLModel, changes: SQLModel, conflict: _Conflict) -> None:
    # exclude_unset: only the fields the caller sent change; the others keep their stored values.
    row.sqlmodel_update(changes.model_dump(exclude_unset=True))
    session.add(row)
    await _commit(session, conflict)


# Heroes


async def _get_by_id(session: AsyncSession, model: type[RowT], row_id: int) -> RowT | None:
    return await session.get(model, row_id) if _storable_id(row_id) else None


async def create_hero(session: AsyncSession, hero: HeroCreate) -> Hero:
    """Insert a hero and return it with its new ``id``. Raises ``ConflictError`` for an unknown team."""
    row = Hero.model_validate(hero)
    session.add(row)
    await _commit(session, _hero_conflict(hero.team_id))
    return row


async def get_hero(session: AsyncSession, hero_id: int) -> Hero | None:
    """The hero with this id, or ``None``."""
    return await _get_by_id(session, Hero, hero_id)


async def list_heroes(session: AsyncSession, offset: int = 0, limit: int = DEFAULT_LIMIT) -> Sequence[Hero]:
    """Heroes ordered by id (a stable order, so pages never overlap or skip), ``limit`` from ``offset``."""
    statement = select(Hero).order_by(Hero.id).offset(offset).limit(limit)
    return (await session.exec(statement)).all()


async def update_hero(session: AsyncSession, hero_id: int, changes: HeroUpdate) -> Hero | None:
    """Apply the fields set in ``changes``; ``None`` if there is no such hero."""
    row = await _get_by_id(session, Hero, hero_id)
    if row is None:
        return None
    await _apply_update(session, row, changes, _hero_conflict(changes.team_id))
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
    statement = select(Hero).where(Hero.id == hero_id).options(joinedload(Hero.team))
    return (await session.exec(statement)).first()


async def list_heroes_with_team(session: AsyncSession, offset: int = 0, limit: int = DEFAULT_LIMIT) -> Sequence[Hero]:
    """Like ``list_heroes``, with each hero's ``team`` loaded: one statement whatever the page size."""
    statement = select(Hero).options(joinedload(Hero.team)).order_by(Hero.id).offset(offset).limit(limit)
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
    unknown_team = _unstorable_team_id(row["team_id"] for row in rows)
    if unknown_team is not None:
        raise ConflictError(f"{_hero_conflict(unknown_team).message}; no hero was inserted")
    try:
        await session.exec(insert(Hero.__table__), params=rows)
        await session.commit()
    except IntegrityError as error:
        await session.rollback()
        conflict = _Conflict("foreign key", "a hero names a team_id that does not exist")
        raise ConflictError(f"{conflict.explain(error)}; no hero was inserted") from None
    return len(rows)


# Teams


async def create_team(session: AsyncSession, team: TeamCreate) -> Team:
    """Insert a team and return it with its new ``id``. Raises ``ConflictError`` for a duplicate name."""
    row = Team.model_validate(team)
    session.add(row)
    await _commit(session, _team_conflict(team.name))
    return row


async def get_team(session: AsyncSession, team_id: int) -> Team | None:
    """The team with this id, or ``None``."""
    return await _get_by_id(session, Team, team_id)


async def list_teams(session: AsyncSession, offset: int = 0, limit: int = DEFAULT_LIMIT) -> Sequence[Team]:
    """Teams ordered by id, ``limit`` from ``offset``."""
    statement = select(Team).order_by(Team.id).offset(offset).limit(limit)
    return (await session.exec(statement)).all()


async def update_team(session: AsyncSession, team_id: int, changes: TeamUpdate) -> Team | None:
    """Apply the fields set in ``changes``; ``None`` if there is no such team."""
    row = await _get_by_id(session, Team, team_id)
    if row is None:
        return None
    await _apply_update(session, row, changes, _team_conflict(changes.name))
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
    statement = select(Team).where(Team.id == team_id).options(selectinload(Team.heroes))
    return (await session.exec(statement)).first()


# Concurrent updates (lesson 06)
#
# Two requests that read a hero, compute a new value and write it back can overwrite each other's change
# (a lost update). These two functions write safely: one computes the new value inside the database, the
# other writes only if the row still holds what the caller read.


async def increment_hero_age(session: AsyncSession, hero_id: int, by: int = 1) -> Hero | None:
    """Add ``by`` to the hero's age in one atomic ``UPDATE hero SET age = age + :by`` and commit.

    Returns the hero as stored right after the change, or ``None`` if there is no such hero. Concurrent
    calls never lose an increment: the database applies them one after another. A hero without an age
    keeps none (``NULL + 1`` is ``NULL``). Raises ``ConflictError`` if the age would become negative.
    Call it in a transaction that has not read the hero yet (a new session, or after a commit): on SQLite a
    transaction that read before another writer committed cannot write ("database is locked").
    """
    statement = (
        update(Hero)
        .where(col(Hero.id) == hero_id)
        .values(age=col(Hero.age) + by)
        .execution_options(synchronize_session=False)  # the hero is read back below
    )
    try:
        result = await session.exec(statement)
        if result.rowcount == 0:
            await session.commit()  # nothing changed; end the transaction as the other paths do
            return None
        # Still inside the transaction that changed the row, so this reads our own write.
        hero = await session.get(Hero, hero_id, populate_existing=True)
        await session.commit()
    except IntegrityError:
        await session.rollback()
        raise ConflictError(f"the age of hero {hero_id} cannot become negative") from None
    return hero


def _is_stale_sqlite_snapshot(error: OperationalError) -> bool:
    # SQLite lets a transaction write only if no other writer committed since it first read: otherwise the
    # write fails at once with SQLITE_BUSY_SNAPSHOT ("database is locked"). The servers lock rows instead.
    return getattr(error.orig, "sqlite_errorname", None) == "SQLITE_BUSY_SNAPSHOT"


async def update_hero_if_unchanged(
    session: AsyncSession, hero_id: int, expected: Mapping[str, Any], changes: HeroUpdate
) -> bool:
    """Apply ``changes`` only if the hero's fields still hold the ``expected`` values (compare-and-set); commit.

    ``UPDATE hero SET ... WHERE id = :id AND age = :expected_age ...``: ``True`` if the row was updated,
    ``False`` if another writer changed one of those fields first (or the hero does not exist). On
    ``False`` the session forgets its copy of the hero, so the next ``session.get`` reads the row again;
    re-read, recompute and retry (optimistic concurrency). On SQLite, a transaction that read the hero
    before another writer committed cannot write at all; that is the same conflict and also gives ``False``.
    Raises ``ConflictError`` for an unknown team.
    """
    unknown = sorted(set(expected) - set(HeroPublic.model_fields))
    if unknown:
        raise ValueError(f"not fields of a hero: {', '.join(unknown)}")
    values = changes.model_dump(exclude_unset=True)
    if not values:
        raise ValueError("no changes to apply")
    unknown_team = _unstorable_team_id([values.get("team_id")])
    if unknown_team is not None:
        raise ConflictError(_hero_conflict(unknown_team).message)
    # `column == None` renders as `IS NULL`, so an expected value of None compares correctly.
    conditions = [getattr(Hero, name) == value for name, value in expected.items()]
    # synchronize_session=False: SQLAlchemy would otherwise apply the new values to the session's copy
    # whether or not the row matched in the database; below, the copy is updated only on success.
    statement = (
        update(Hero)
        .where(col(Hero.id) == hero_id, *conditions)
        .values(**values)
        .execution_options(synchronize_session=False)
    )
    try:
        result = await session.exec(statement)
        await session.commit()
    except IntegrityError as error:
        await session.rollback()
        raise ConflictError(_hero_conflict(changes.team_id).explain(error)) from None
    except OperationalError as error:
        if not _is_stale_sqlite_snapshot(error):
            raise
        _forget_hero(session, hero_id)  # before the rollback, which would expire the caller's copy
        await session.rollback()
        return False
    cached = session.identity_map.get(session.identity_key(Hero, hero_id))
    if result.rowcount == 1:
        if cached is not None:
            for name, value in values.items():
                set_committed_value(cached, name, value)  # as stored, without marking it changed
        return True
    _forget_hero(session, hero_id)
    return False


def _forget_hero(session: AsyncSession, hero_id: int) -> None:
    """Remove the session's copy of the hero (its values are stale); the caller's reference stays readable."""
    cached = session.identity_map.get(session.identity_key(Hero, hero_id))
    if cached is not None:
        session.expunge(cached)


# Powers: the many-to-many relationship between heroes and powers (lesson 09)
#
# A hero's powers are rows of the link table ``hero_power``. Adding or removing one writes that row directly,
# without loading the hero's ``powers`` collection first.


async def create_power(session: AsyncSession, power: PowerCreate) -> Power:
    """Insert a power and return it with its new ``id``. Raises ``ConflictError`` for a duplicate name."""
    row = Power.model_validate(power)
    session.add(row)
    await _commit(session, _Conflict("unique", f"a power named {power.name!r} already exists"))
    return row


async def list_powers(session: AsyncSession, offset: int = 0, limit: int = DEFAULT_LIMIT) -> Sequence[Power]:
    """Powers ordered by id, ``limit`` from ``offset``."""
    statement = select(Power).order_by(col(Power.id)).offset(offset).limit(limit)
    return (await session.exec(statement)).all()


async def get_hero_with_powers(session: AsyncSession, hero_id: int) -> Hero | None:
    """The hero with its ``powers`` (ordered by id) loaded by one extra ``SELECT ... IN``, or ``None``.

    The collection is read from the database even if this session loaded it before, so it shows the
    changes made by ``add_power_to_hero`` and ``remove_power_from_hero``.
    """
    statement = (
        select(Hero)
        .where(col(Hero.id) == hero_id)
        .options(selectinload(Hero.powers))
        .execution_options(populate_existing=True)
    )
    return (await session.exec(statement)).first()


async def add_power_to_hero(session: AsyncSession, hero_id: int, power_id: int) -> bool:
    """Give the hero the power (one link row) and commit: ``True`` if added, ``False`` if it had it already.

    Raises ``ConflictError`` if the hero or the power does not exist. A ``hero.powers`` collection loaded
    earlier is not updated; load it again with ``get_hero_with_powers``.
    """
    if await session.get(HeroPowerLink, (hero_id, power_id)) is not None:
        return False
    session.add(HeroPowerLink(hero_id=hero_id, power_id=power_id))
    try:
        await session.commit()
    except IntegrityError:
        await session.rollback()
        if await session.get(HeroPowerLink, (hero_id, power_id)) is not None:
            return False  # another request added the same link first
        raise ConflictError(f"hero {hero_id} or power {power_id} does not exist") from None
    return True


async def remove_power_from_hero(session: AsyncSession, hero_id: int, power_id: int) -> bool:
    """Take the power from the hero (delete its link row) and commit; ``True`` if the hero had it."""
    statement = delete(HeroPowerLink).where(
        col(HeroPowerLink.hero_id) == hero_id, col(HeroPowerLink.power_id) == power_id
    )
    result = await session.exec(statement)
    await session.commit()
    return result.rowcount == 1
