"""The path operations, one router per resource: ``/heroes/`` and ``/teams/``."""
