"""heroes_lib: the code behind the async SQLModel course.

Modules, in the order their imports point:

- ``settings``: which database to use (``HEROES_DATABASE_URL``), validated and masked for display.
- ``db_errors``: what a driver's error means (the database out of reach, or which constraint failed).
- ``db``: the async engine and session factory, with per-backend defaults.
- ``models``: the ``Team`` and ``Hero`` tables and their create / public / update models.
- ``schema``: create, drop and list the course's tables.
- ``crud``: async create, read, list, update and delete, plus a fast bulk insert.
- ``concurrent_updates``: updates that lose no change when two requests write one hero at once.
- ``powers``: the many-to-many relationship between heroes and powers.
- ``sample_data``: a small deterministic set of teams and heroes.
- ``pagination``: keyset pages and streamed batches for large results.
- ``concurrency``: ``gather`` with a bound on concurrency; a server-side wait for demonstrations.
- ``retry``: run a transaction again when it lost a race with another one.
- ``counter`` and ``pool_counter``: count the SQL statements sent and what the connection pool does.
- ``notebook``: keeps what an error shown on purpose leaves behind out of later cells.
- ``api``: the FastAPI app (``uvicorn heroes_lib.api:app``).
"""

__version__ = "0.1.0"
