"""The OpenAPI schema fuzzed with schemathesis: no server error, and every response matches the schema.

Schemathesis calls the app over ASGI (no network) on an event loop of its own, where it also runs the
app's lifespan (started by the first request of each test, stopped after it), so the engine is built on
the loop that serves the requests.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis import checks

from heroes_lib.api import create_app
from tests.api_fixtures import drop_tables, reset_tables

app = create_app()
# Loaded from the app's own schema, without a request: nothing touches the database while pytest collects.
# Attaching the app (as schemathesis.openapi.from_asgi does) makes schemathesis call it over ASGI.
schema = schemathesis.openapi.from_dict(app.openapi())
schema.app = app


@pytest.fixture(scope="module", autouse=True)
async def empty_tables() -> AsyncIterator[None]:
    await reset_tables()
    yield
    await drop_tables()


@schema.parametrize()
# Bounded and reproducible: the same examples on every run (derandomize), nothing kept in .hypothesis/.
@settings(max_examples=25, deadline=None, derandomize=True, database=None, suppress_health_check=list(HealthCheck))
def test_fuzzed_requests_get_no_server_error_and_match_the_schema(case: schemathesis.Case) -> None:
    # Every built-in check but one: Pydantic's lax mode (FastAPI's default, as in SQLModel's tutorial) takes
    # false or "30" for an integer age, which the schema calls invalid. The invalid requests this API must
    # refuse are tested one by one in test_api.py.
    case.call_and_validate(excluded_checks=[checks.negative_data_rejection])
