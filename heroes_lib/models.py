"""Teams and heroes: the two tables, and the models the API reads and writes.

Table models (``Team``, ``Hero``) map rows. The others are plain Pydantic models: ``*Create`` is what a
client may send to create a row, ``*Update`` has every field optional for partial updates, and
``*Public`` is what the API returns. The ``*With*`` models carry a relationship, which must be loaded
eagerly before they are built (see lesson 04).
"""

# No "from __future__ import annotations": SQLModel reads relationship annotations at class creation.
from typing import Any, ClassVar

from pydantic import field_validator, model_validator
from sqlalchemy import CheckConstraint
from sqlalchemy.ext.asyncio import AsyncAttrs
from sqlmodel import Field, Relationship, SQLModel

#: The longest name (team or hero) and secret name accepted; longer ones are rejected with 422.
NAME_MAX_LENGTH = 100
HEADQUARTERS_MAX_LENGTH = 200
#: The largest value an INTEGER column holds on PostgreSQL and MySQL; larger ages are refused with 422. An id
#: or ``team_id`` of any size is accepted: one outside that range names no row (404, or 409 for a ``team_id``).
MAX_INTEGER = 2**31 - 1

# MySQL/MariaDB: store any Unicode (emoji included) and compare names exactly, as SQLite and PostgreSQL do;
# the server's default collation is case-insensitive, which would make "Foo" and "foo" the same team.
_MYSQL_TABLE_OPTIONS = {"mysql_charset": "utf8mb4", "mysql_collate": "utf8mb4_bin"}


class CourseModel(SQLModel):
    """Base of every model here: text that every backend can store (no NUL, no lone UTF-16 surrogates)."""

    @field_validator("*", mode="after")
    @classmethod
    def _reject_unstorable_text(cls, value: Any) -> Any:
        if isinstance(value, str):
            if "\x00" in value:
                raise ValueError("must not contain NUL characters")
            try:
                value.encode("utf-8")
            except UnicodeEncodeError:
                raise ValueError("must be valid Unicode text (a lone surrogate is not)") from None
        return value


class PartialUpdate(CourseModel):
    """Base of the ``*Update`` models: every field may be left out, but a required column cannot be nulled."""

    required_fields: ClassVar[frozenset[str]] = frozenset()

    @model_validator(mode="after")
    def _reject_null_for_required(self) -> Any:
        nulled = sorted(name for name in self.required_fields & self.model_fields_set if getattr(self, name) is None)
        if nulled:
            raise ValueError(f"{', '.join(nulled)} may be left out but not set to null")
        return self


class TeamBase(CourseModel):
    name: str = Field(min_length=1, max_length=NAME_MAX_LENGTH, unique=True, index=True)
    headquarters: str = Field(max_length=HEADQUARTERS_MAX_LENGTH)


class Team(AsyncAttrs, TeamBase, table=True):
    """A team row. ``AsyncAttrs`` adds ``await team.awaitable_attrs.heroes`` for loading on demand."""

    __table_args__ = (CheckConstraint("name <> ''", name="team_name_not_empty"), _MYSQL_TABLE_OPTIONS)

    id: int | None = Field(default=None, primary_key=True)
    # passive_deletes: the database sets team_id to NULL (ON DELETE SET NULL) instead of the ORM
    # loading every hero first.
    heroes: list["Hero"] = Relationship(
        back_populates="team", passive_deletes=True, sa_relationship_kwargs={"order_by": "Hero.id"}
    )


class TeamCreate(TeamBase):
    """A new team: its name (unique) and headquarters."""


class TeamPublic(TeamBase):
    """A team as the API returns it, with its id."""

    id: int


class TeamUpdate(PartialUpdate):
    """The fields of a team to change; those left out keep their values."""

    required_fields = frozenset({"name", "headquarters"})
    name: str | None = Field(default=None, min_length=1, max_length=NAME_MAX_LENGTH)
    headquarters: str | None = Field(default=None, max_length=HEADQUARTERS_MAX_LENGTH)


class HeroBase(CourseModel):
    name: str = Field(min_length=1, max_length=NAME_MAX_LENGTH, index=True)
    secret_name: str = Field(min_length=1, max_length=NAME_MAX_LENGTH)
    age: int | None = Field(default=None, ge=0, le=MAX_INTEGER, index=True)
    team_id: int | None = Field(default=None, foreign_key="team.id", ondelete="SET NULL")


class HeroPowerLink(SQLModel, table=True):
    """Which hero has which power: the link table of a many-to-many relationship."""

    __tablename__ = "hero_power"
    __table_args__ = (_MYSQL_TABLE_OPTIONS,)

    hero_id: int = Field(foreign_key="hero.id", primary_key=True, ondelete="CASCADE")
    power_id: int = Field(foreign_key="power.id", primary_key=True, ondelete="CASCADE", index=True)


class Hero(AsyncAttrs, HeroBase, table=True):
    """A hero row; ``hero.team`` is its team (or ``None``)."""

    __table_args__ = (
        CheckConstraint("name <> ''", name="hero_name_not_empty"),
        CheckConstraint("secret_name <> ''", name="hero_secret_name_not_empty"),
        CheckConstraint("age >= 0", name="hero_age_not_negative"),
        _MYSQL_TABLE_OPTIONS,
    )

    id: int | None = Field(default=None, primary_key=True)
    team: Team | None = Relationship(back_populates="heroes")
    powers: list["Power"] = Relationship(
        back_populates="heroes",
        link_model=HeroPowerLink,
        passive_deletes=True,
        sa_relationship_kwargs={"order_by": "Power.id"},
    )


class HeroCreate(HeroBase):
    """A new hero: names, an optional age and an optional ``team_id`` (an existing team's id)."""


class HeroPublic(HeroBase):
    """A hero as the API returns it, with its id."""

    id: int


class HeroUpdate(PartialUpdate):
    """The fields of a hero to change; those left out keep their values, ``null`` clears age or team."""

    required_fields = frozenset({"name", "secret_name"})
    name: str | None = Field(default=None, min_length=1, max_length=NAME_MAX_LENGTH)
    secret_name: str | None = Field(default=None, min_length=1, max_length=NAME_MAX_LENGTH)
    age: int | None = Field(default=None, ge=0, le=MAX_INTEGER)
    team_id: int | None = None


class PowerBase(CourseModel):
    name: str = Field(min_length=1, max_length=NAME_MAX_LENGTH, unique=True, index=True)


class Power(AsyncAttrs, PowerBase, table=True):
    """A power (flight, invisibility, ...); many heroes can share one, a hero can have many."""

    __table_args__ = (CheckConstraint("name <> ''", name="power_name_not_empty"), _MYSQL_TABLE_OPTIONS)

    id: int | None = Field(default=None, primary_key=True)
    heroes: list[Hero] = Relationship(
        back_populates="powers",
        link_model=HeroPowerLink,
        passive_deletes=True,
        sa_relationship_kwargs={"order_by": "Hero.id"},
    )


class PowerCreate(PowerBase):
    """A new power: its name (unique)."""


class PowerPublic(PowerBase):
    """A power as the API returns it, with its id."""

    id: int


class HeroPublicWithTeam(HeroPublic):
    """A hero with its team (``null`` if it has none)."""

    team: TeamPublic | None = None


class TeamPublicWithHeroes(TeamPublic):
    """A team with its heroes, in id order."""

    heroes: list[HeroPublic] = []
