"""The OpenAPI schema, made to say exactly what the API accepts (schema-driven clients and fuzzers rely on it).

FastAPI documents each body model from its field types and constraints, which misses two rules the models
enforce in validators: text must not contain NUL (``CourseModel``: PostgreSQL cannot store it), and PATCH
may leave out a required column but not set it to ``null`` (``PartialUpdate.required_fields``). Without
them, a client following the schema would be answered 422 for requests the schema allows.
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI

from heroes_lib.models import CourseModel, HeroCreate, HeroUpdate, PartialUpdate, TeamCreate, TeamUpdate

#: The models clients send, whose text fields refuse NUL.
REQUEST_MODELS: tuple[type[CourseModel], ...] = (HeroCreate, HeroUpdate, TeamCreate, TeamUpdate)
#: A JSON Schema (ECMA 262) pattern: no NUL anywhere in the string.
NO_NUL_PATTERN = r"^[^\x00]*$"


def _branches(property_schema: dict[str, Any]) -> list[dict[str, Any]]:
    branches: list[dict[str, Any]] = property_schema.get("anyOf", [property_schema])
    return branches


def _refuse_null(property_schema: dict[str, Any]) -> None:
    # {"anyOf": [{"type": "string", ...}, {"type": "null"}]} -> {"type": "string", ...}
    branches = [branch for branch in _branches(property_schema) if branch.get("type") != "null"]
    if "anyOf" in property_schema and len(branches) == 1:
        del property_schema["anyOf"]
        property_schema.update(branches[0])


def _refuse_nul(property_schema: dict[str, Any]) -> None:
    for branch in _branches(property_schema):
        if branch.get("type") == "string":
            branch.setdefault("pattern", NO_NUL_PATTERN)


def document_model_rules(app: FastAPI) -> None:
    """Generate the schema as FastAPI does, then add the rules the models check in validators."""
    generate = app.openapi  # FastAPI's own: builds the schema once and caches it on app.openapi_schema

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            components = generate().get("components", {}).get("schemas", {})
            for model in REQUEST_MODELS:
                properties = components.get(model.__name__, {}).get("properties", {})
                for property_schema in properties.values():
                    _refuse_nul(property_schema)
                if issubclass(model, PartialUpdate):
                    for name in model.required_fields:
                        _refuse_null(properties[name])
        return app.openapi_schema or generate()

    app.openapi = openapi  # type: ignore[method-assign]  # FastAPI's documented way to customise the schema
