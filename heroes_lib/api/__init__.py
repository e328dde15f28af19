"""The heroes and teams API: SQLModel's FastAPI tutorial app, async.

``uvicorn heroes_lib.api:app`` serves the course database (``HEROES_DATABASE_URL``, else the SQLite file);
``create_app(url)`` builds another instance, for tests or a different database.
"""

from heroes_lib.api.app import create_app

app = create_app()

__all__ = ["app", "create_app"]
