"""Benchmarks behind lesson 10: what async SQLModel costs and where it pays off, measured.

    python -m bench            # full run: a few minutes per backend
    python -m bench --smoke    # tiny sizes, seconds: proves every benchmark still runs
    python -m bench --only concurrency --update --output bench/results   # re-measure one part
    python -m bench --replot bench/results/*.json                        # judge and draw again, no database
    python -m bench --help

Runs on the database ``HEROES_DATABASE_URL`` names (default: the course's SQLite file), in a scratch
database created beside it and dropped afterwards, and writes ``<backend>.json`` and PNG plots to the
output folder. Each benchmark has its own module:

- ``insert``: 10,000 heroes inserted seven ways, from the raw driver to one commit per row.
- ``load``: heroes with their team, by JOIN, ``selectinload``, ``joinedload`` and N+1, as N grows.
- ``concurrency``: 100 lookups gathered or one after the other, side by side on each pool size.
- ``http_api``: the heroes API against a sync app in the SQLModel tutorial's style, under load.
- ``layers``: one request through the raw driver, Core, the ORM, FastAPI and the heroes API: time, round trips
  (``round_trips``: a counting TCP proxy) and a profile; ``layer_apps`` holds the apps.

``common`` holds what they share (timing, progress, settings), ``database`` the scratch database,
``loadgen`` the HTTP load generators, ``sync_app`` and ``async_app`` the two apps served, ``app_settings``
how they are configured, ``goals`` the targets each full run is judged against, and ``plots`` the figures.
"""
