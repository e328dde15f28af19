"""The heroes and teams API: the final app of SQLModel's FastAPI tutorial, async.

``uvicorn heroes_lib.api:app`` serves the course database (``HEROES_DATABASE_URL``, else the SQLite file)
from any folder, with its interactive docs at ``/docs``. ``create_app(url)`` or ``create_app(engine=...)``
builds another instance, for tests or a different database.
"""

from heroes_lib.api.app import create_app

#: The app ``uvicorn heroes_lib.api:app`` serves. Nothing is contacted until its lifespan starts.
app = create_app()

__all__ = ["app", "create_app"]
