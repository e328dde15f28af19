"""Lesson 09's exercises: keyset pages on a key that repeats, a report streamed in batches, a many-to-many query.

Each check runs the learner's function on tables of its own making (``make_engine()``, the tables reset to a known
state) and judges what it returned, what it kept in memory and how many statements it sent, so the verdict is the
same on every backend.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any

from sqlalchemy import event, func
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from heroes_lib.counter import count_statements
from heroes_lib.crud import create_heroes_bulk
from heroes_lib.db import is_missing_greenlet, make_sessionmaker
from heroes_lib.exercises import Exercise, Mistake, NotSolved, fresh_tables, returned_nothing
from heroes_lib.models import Hero, HeroCreate, HeroPowerLink, Power
from heroes_lib.sample_data import generate_heroes

#: Exercise 1's heroes: names that repeat, so only (name, id) orders them.
NAMES = ("Bee", "Ant", "Cat", "Ant", "Bee", "Ant", "Bee", "Cat", "Ant", "Bee")
#: Added after the first page: it sorts before every hero already shown.
LATECOMER = "Aardvark"
PAGE_SIZE = 3

#: Exercise 2: heroes to stream, and the most ``Hero`` objects that may be alive at once.
REPORT_HEROES = 3000
REPORT_BATCH = 500
MOST_ALIVE = 3 * REPORT_BATCH  # a batch being built while the previous one is still referenced, and some room

#: Exercise 3: hero -> powers, in power id order.
HERO_POWERS = {
    "Deadpond": ["Super strength", "Healing factor"],
    "Rusty-Man": ["Flight"],
    "Spider-Boy": [],
    "Dr. Weird": ["Flight", "Invisibility"],
}
POWER_NAMES = ("Flight", "Super strength", "Invisibility", "Healing factor")

SKIPPED_HINT = "names repeat: `name > last.name` skips the heroes that share the last name of a page"
OFFSET_HINT = "that is what OFFSET pages do"
YIELD_PER_HINT = "without `yield_per` the ORM builds every object of the result before handing out the first"
LAZY_POWERS_HINT = "`hero.powers` was read before it was loaded"
N_PLUS_ONE_HINT = "each hero's powers were loaded by a query of their own"


async def _verify_pages_by_name(pages_by_name: Callable[..., Any]) -> str:
    async with fresh_tables() as engine, make_sessionmaker(engine)() as session:
        heroes = [Hero(name=name, secret_name=f"Secret {number}") for number, name in enumerate(NAMES, 1)]
        session.add_all(heroes)
        await session.commit()
        expected = sorted((hero.name, hero.id) for hero in heroes)
        pages = pages_by_name(session, PAGE_SIZE)
        if pages is None:
            raise returned_nothing("pages_by_name")
        if not hasattr(pages, "__anext__"):
            raise NotSolved("`pages_by_name` should be an async generator: `yield` each page inside the loop.")
        seen: list[tuple[str | None, int | None]] = []
        with count_statements(engine) as counter:
            async for page in pages:
                if not seen:  # after the first page, another request adds a hero before the position
                    session.add(Hero(name=LATECOMER, secret_name="Late"))
                    await session.commit()
                seen.extend((hero.name, hero.id) for hero in page)
                if len(seen) > 2 * len(NAMES):
                    raise NotSolved("Your pages never end: each page must start after the last hero of the one before.")
    reads = [sql for sql in counter.statements if sql.lstrip().upper().startswith("SELECT")]
    repeated = sorted({hero for hero in seen if seen.count(hero) > 1})
    if repeated:
        raise NotSolved(
            f"{repeated[0][0]} (id {repeated[0][1]}) came twice after a hero was added before your position: "
            f"{OFFSET_HINT}.\nStart each page after the last hero's (name, id) with a WHERE instead."
        )
    missing = [hero for hero in expected if hero not in seen]
    if missing:
        raise NotSolved(
            f"{len(missing)} of {len(NAMES)} heroes were skipped: {SKIPPED_HINT}.\n"
            "Order by name, then id, and compare the pair: `tuple_(Hero.name, Hero.id) > tuple_(...)`."
        )
    if seen != expected:
        raise NotSolved(f"Every hero came once, but not in the order name, then id: {seen[:4]}, ...")
    if len(reads) < len(NAMES) // PAGE_SIZE or not all("LIMIT" in sql.upper() for sql in reads):
        raise NotSolved(f"Read each page with a query of its own, `.limit({PAGE_SIZE})`, not all heroes at once.")
    return f"{len(NAMES)} heroes with repeating names, each once, in {len(reads)} keyset queries."


@asynccontextmanager
async def _watching_loads(engine: AsyncEngine) -> AsyncIterator[dict[str, Any]]:
    """Record the most ``Hero`` objects alive at any load, and whether a statement asked for a stream."""
    seen: dict[str, Any] = {"most_alive": 0, "loaded": 0, "streamed": False}

    def on_load(target: Hero, context: Any) -> None:
        seen["loaded"] += 1
        seen["most_alive"] = max(seen["most_alive"], len(context.session.identity_map))

    def on_execute(_conn: Any, _cursor: Any, _statement: str, _params: Any, context: Any, _many: bool) -> None:
        if context.execution_options.get("stream_results"):
            seen["streamed"] = True

    event.listen(Hero, "load", on_load)
    event.listen(engine.sync_engine, "before_cursor_execute", on_execute)
    try:
        yield seen
    finally:
        event.remove(Hero, "load", on_load)
        event.remove(engine.sync_engine, "before_cursor_execute", on_execute)


async def _verify_age_report(age_report: Callable[..., Any]) -> str:
    async with fresh_tables() as engine, make_sessionmaker(engine)() as session:
        await create_heroes_bulk(session, generate_heroes(REPORT_HEROES))
        statement = select(func.count(col(Hero.age)), func.sum(col(Hero.age)))
        count, total = (await session.exec(statement)).one()
        expected = (count, int(total or 0))
    async with make_sessionmaker(engine)() as session, _watching_loads(engine) as seen:
        result = await age_report(session)
    if result is None:
        raise returned_nothing("age_report")
    if tuple(result) != expected:
        raise NotSolved(f"Expected {expected} (heroes with an age, sum of their ages), got {tuple(result)}.")
    if seen["loaded"] == 0:
        raise NotSolved("Right numbers, but no hero was read: the exercise asks you to stream the heroes themselves.")
    if not seen["streamed"]:
        raise NotSolved(
            f"Your code read all {REPORT_HEROES:,} heroes at once ({seen['most_alive']:,} alive): "
            "`session.exec` reads the whole result. Use `session.stream_scalars`."
        )
    if seen["most_alive"] > MOST_ALIVE:
        raise NotSolved(
            f"The stream held {seen['most_alive']:,} Hero objects at once: {YIELD_PER_HINT}.\n"
            f"Add `.execution_options(yield_per={REPORT_BATCH})` to the statement."
        )
    return f"{REPORT_HEROES:,} heroes streamed, at most {seen['most_alive']:,} Hero objects alive at once."


async def _add_heroes_with_powers(session: AsyncSession) -> None:
    power_ids: dict[str, int] = {}
    for name in POWER_NAMES:  # one flush each: ids in POWER_NAMES order on every backend
        power = Power(name=name)
        session.add(power)
        await session.flush()
        assert power.id is not None
        power_ids[name] = power.id
    for name, power_names in HERO_POWERS.items():
        hero = Hero.model_validate(HeroCreate(name=name, secret_name=f"Secret {name}"))
        session.add(hero)
        await session.flush()
        assert hero.id is not None
        session.add_all(HeroPowerLink(hero_id=hero.id, power_id=power_ids[power]) for power in power_names)
    await session.commit()


async def _verify_powers_of_heroes(powers_of_heroes: Callable[..., Any]) -> str:
    async with fresh_tables() as engine:
        async with make_sessionmaker(engine)() as session:
            await _add_heroes_with_powers(session)
        async with make_sessionmaker(engine)() as session:
            with count_statements(engine) as counter:
                try:
                    result = await powers_of_heroes(session)
                except Exception as error:
                    if not is_missing_greenlet(error):
                        raise
                    raise NotSolved(
                        f"{LAZY_POWERS_HINT}, so SQLAlchemy refused to load it (MissingGreenlet, lesson 04).\n"
                        "Load the collection in the query: `.options(selectinload(Hero.powers))`."
                    ) from None
    if result is None:
        raise returned_nothing("powers_of_heroes")
    got = {name: list(powers) for name, powers in dict(result).items()}
    if got != HERO_POWERS or list(got) != list(HERO_POWERS):
        raise NotSolved(f"Expected every hero in id order with its powers: {HERO_POWERS}\nYour code returned {got}.")
    if counter.count > 2:
        raise NotSolved(
            f"Your code sent {counter.count} statements for {len(HERO_POWERS)} heroes: {N_PLUS_ONE_HINT}.\n"
            "Which loader option loads every hero's collection at once?"
        )
    return f"{len(HERO_POWERS)} heroes and their powers in {counter.count} statements."


exercise_1 = Exercise(
    number=1,
    names=("pages_by_name",),
    verify=_verify_pages_by_name,
    mistakes=(
        Mistake(
            code='''async def pages_by_name(session, limit: int):
    """Every hero, `limit` at a time, ordered by name: each page one keyset query."""
    statement = select(Hero).order_by(Hero.name, Hero.id).limit(limit)
    page = (await session.exec(statement)).all()
    while page:
        yield page
        page = (await session.exec(statement.where(Hero.name > page[-1].name))).all()''',
            hint=SKIPPED_HINT,
        ),
        Mistake(
            code='''async def pages_by_name(session, limit: int):
    """Every hero, `limit` at a time, ordered by name."""
    offset = 0
    while True:
        statement = select(Hero).order_by(Hero.name, Hero.id).offset(offset).limit(limit)
        page = (await session.exec(statement)).all()
        if not page:
            return
        yield page
        offset += limit''',
            hint=OFFSET_HINT,
        ),
    ),
)

exercise_2 = Exercise(
    number=2,
    names=("age_report",),
    verify=_verify_age_report,
    mistakes=(
        Mistake(
            code='''async def age_report(session) -> tuple[int, int]:
    """(heroes with an age, sum of their ages), streamed 500 heroes at a time."""
    count = total = 0
    async for hero in await session.stream_scalars(select(Hero).order_by(Hero.id)):
        if hero.age is not None:
            count += 1
            total += hero.age
    return count, total''',
            hint=YIELD_PER_HINT,
        ),
    ),
)

exercise_3 = Exercise(
    number=3,
    names=("powers_of_heroes",),
    verify=_verify_powers_of_heroes,
    mistakes=(
        Mistake(
            code='''async def powers_of_heroes(session) -> dict[str, list[str]]:
    """Each hero's name -> the names of its powers, in at most two statements."""
    heroes = (await session.exec(select(Hero).order_by(Hero.id))).all()
    return {hero.name: [power.name for power in hero.powers] for hero in heroes}''',
            hint=LAZY_POWERS_HINT,
        ),
        Mistake(
            code='''async def powers_of_heroes(session) -> dict[str, list[str]]:
    """Each hero's name -> the names of its powers, in at most two statements."""
    heroes = (await session.exec(select(Hero).order_by(Hero.id))).all()
    return {hero.name: [power.name for power in await hero.awaitable_attrs.powers] for hero in heroes}''',
            hint=N_PLUS_ONE_HINT,
        ),
    ),
)

EXERCISES = (exercise_1, exercise_2, exercise_3)
