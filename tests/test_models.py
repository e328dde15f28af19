"""heroes_lib.models: validation of the API-facing models and the constraints of the tables."""

from __future__ import annotations

import inspect
import tomllib
from pathlib import Path

import pytest
from pydantic import ValidationError
from sqlalchemy import CheckConstraint, ForeignKeyConstraint
from sqlmodel import SQLModel

import heroes_lib
from heroes_lib.models import (
    MAX_INTEGER,
    NAME_MAX_LENGTH,
    Hero,
    HeroCreate,
    HeroPublic,
    HeroPublicWithTeam,
    HeroUpdate,
    PowerCreate,
    PowerPublic,
    Team,
    TeamCreate,
    TeamPublic,
    TeamPublicWithHeroes,
    TeamUpdate,
)

pytestmark = pytest.mark.no_database


@pytest.mark.parametrize(
    "fields",
    [
        {"name": "", "secret_name": "x"},
        {"name": "x", "secret_name": ""},
        {"name": "x", "secret_name": "y", "age": -1},
        {"name": "x" * (NAME_MAX_LENGTH + 1), "secret_name": "y"},
        {"name": "x", "secret_name": "y", "age": "old"},
        {"secret_name": "y"},
    ],
)
def test_hero_create_rejects_invalid_fields(fields: dict[str, object]) -> None:
    with pytest.raises(ValidationError):
        HeroCreate.model_validate(fields)


def test_hero_create_keeps_strings_verbatim() -> None:
    name = "Robert'); DROP TABLE hero;-- 🦸"
    hero = HeroCreate(name=name, secret_name='"quoted"', age=0)
    assert hero.name == name and hero.secret_name == '"quoted"' and hero.age == 0
    assert HeroCreate(name="x" * NAME_MAX_LENGTH, secret_name="y").name == "x" * NAME_MAX_LENGTH


def test_team_create_requires_a_name_and_headquarters() -> None:
    with pytest.raises(ValidationError):
        TeamCreate(name="", headquarters="HQ")
    with pytest.raises(ValidationError):
        TeamCreate.model_validate({"name": "Team"})


def test_update_models_are_partial() -> None:
    assert HeroUpdate().model_dump(exclude_unset=True) == {}
    assert HeroUpdate(age=40).model_dump(exclude_unset=True) == {"age": 40}
    assert HeroUpdate(age=None, team_id=None).model_dump(exclude_unset=True) == {"age": None, "team_id": None}
    assert TeamUpdate(headquarters="New").model_dump(exclude_unset=True) == {"headquarters": "New"}


@pytest.mark.parametrize(
    ("model", "field"),
    [(HeroUpdate, "name"), (HeroUpdate, "secret_name"), (TeamUpdate, "name"), (TeamUpdate, "headquarters")],
)
def test_update_models_refuse_null_for_required_columns(model: type, field: str) -> None:
    with pytest.raises(ValidationError, match="may be left out but not set to null"):
        model.model_validate({field: None})


def test_update_models_validate_like_create() -> None:
    with pytest.raises(ValidationError):
        HeroUpdate(age=-5)
    with pytest.raises(ValidationError):
        TeamUpdate(name="")


def test_public_models_are_not_tables_and_carry_relationships() -> None:
    for model in (HeroPublic, TeamPublic, HeroPublicWithTeam, TeamPublicWithHeroes):
        assert not hasattr(model, "__table__")
    hero = HeroPublicWithTeam(id=1, name="A", secret_name="B", team=TeamPublic(id=2, name="T", headquarters="H"))
    assert hero.team is not None and hero.team.id == 2
    assert TeamPublicWithHeroes(id=1, name="T", headquarters="H").heroes == []


def test_tables_have_the_constraints_that_matter() -> None:
    hero, team = Hero.__table__, Team.__table__
    assert [column.name for column in hero.primary_key] == ["id"]
    assert hero.c.name.index and not hero.c.name.nullable
    assert team.c.name.unique
    (foreign_key,) = [c for c in hero.constraints if isinstance(c, ForeignKeyConstraint)]
    assert foreign_key.referred_table is team and foreign_key.ondelete == "SET NULL"
    checks = {str(c.sqltext) for c in hero.constraints if isinstance(c, CheckConstraint)}
    assert checks == {"name <> ''", "secret_name <> ''", "age >= 0"}
    assert hero.c.name.type.length == NAME_MAX_LENGTH


def test_relationships_point_both_ways() -> None:
    assert Hero.team.property.back_populates == "heroes"
    assert Team.heroes.property.back_populates == "team"


@pytest.mark.parametrize(
    ("model", "fields"),
    [
        (HeroCreate, {"name": "a\x00b", "secret_name": "s"}),
        (HeroUpdate, {"secret_name": "\x00"}),
        (TeamCreate, {"name": "T", "headquarters": "H\x00"}),
        (HeroCreate, {"name": "a", "secret_name": "s", "age": MAX_INTEGER + 1}),
        (HeroUpdate, {"age": 2**63}),
        (HeroCreate, {"name": "lone \ud800 surrogate", "secret_name": "s"}),
    ],
)
def test_values_no_backend_can_store_are_refused(model: type, fields: dict[str, object]) -> None:
    with pytest.raises(ValidationError):
        model.model_validate(fields)


@pytest.mark.parametrize("team_id", [MAX_INTEGER + 1, -(2**31), 2**63, -(2**63), 10**30])
def test_any_integer_is_a_team_id(team_id: int) -> None:
    # As with path ids: one outside the INTEGER range names no team, which crud answers with a conflict (409).
    assert HeroCreate(name="a", secret_name="s", team_id=team_id).team_id == team_id
    assert HeroUpdate(team_id=team_id).team_id == team_id


API_MODELS = (
    HeroCreate, HeroPublic, HeroUpdate, HeroPublicWithTeam,
    TeamCreate, TeamPublic, TeamUpdate, TeamPublicWithHeroes,
    PowerCreate, PowerPublic,
)  # fmt: skip


@pytest.mark.parametrize("model", API_MODELS, ids=lambda model: model.__name__)
def test_api_models_describe_themselves(model: type[SQLModel]) -> None:
    # The class docstring is the model's description in the OpenAPI schema; pydantic ignores an inherited one.
    assert "__doc__" in vars(model) and model.__doc__
    assert model.model_json_schema()["description"] == inspect.cleandoc(model.__doc__)


def test_heroes_lib_declares_its_type_hints() -> None:
    # PEP 561: the marker tells type checkers to read heroes_lib's annotations; setuptools installs it.
    assert (Path(heroes_lib.__file__).parent / "py.typed").is_file()
    root = Path(heroes_lib.__file__).resolve().parent.parent
    package_data = tomllib.loads((root / "pyproject.toml").read_text())["tool"]["setuptools"]["package-data"]
    assert "py.typed" in package_data["heroes_lib"]
