"""Free TCP ports on the loopback interface, for the servers the tests and benchmarks start.

The one definition lives with the uvicorn launcher, ``heroes_lib.serve``, which needs it too.
"""

from __future__ import annotations

from heroes_lib.serve import free_port

__all__ = ["free_port"]
