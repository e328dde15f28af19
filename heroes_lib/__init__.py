"""heroes_lib: the code behind the async SQLModel course.

Modules, in the order their imports point:

- ``settings``: which database to use (``HEROES_DATABASE_URL``), validated and masked for display.
- ``db``: the async engine, session factory and schema helpers, with per-backend defaults.
- ``models``: the ``Team`` and ``Hero`` tables and their create / public / update models.
- ``crud``: async create, read, list, update and delete, plus a fast bulk insert.
- ``sample_data``: a small deterministic set of teams and heroes.
- ``counter``: counts the SQL statements a block of code issues.
"""

__version__ = "0.1.0"
