"""Notebook support: keep the leftovers of errors a lesson causes on purpose out of later cells."""

from __future__ import annotations

import inspect
import sys
import warnings
from collections.abc import Callable
from typing import Any

UNAWAITED_COROUTINE = "coroutine .* was never awaited"


def silence_unawaited_coroutines() -> None:
    """Stop Python from reporting coroutines that were never awaited, for the rest of this process.

    A query that SQLAlchemy refuses (``MissingGreenlet``), or that a running event loop refuses, leaves the
    driver's coroutine behind, never awaited. Python reports it when the garbage collector frees it, which can be
    in any later cell: as a ``RuntimeWarning``, or, when the collection happens to run inside library code, as
    *Exception ignored in: <coroutine ...>*. Both are noise about an error shown on purpose, and both would land
    in the output of an unrelated cell at a random moment. Other unraisable exceptions are still reported.
    Calling it again changes nothing.
    """
    warnings.filterwarnings("ignore", message=UNAWAITED_COROUTINE, category=RuntimeWarning)
    if not isinstance(sys.unraisablehook, _CoroutineFilter):
        sys.unraisablehook = _CoroutineFilter(sys.unraisablehook)


class _CoroutineFilter:
    """An unraisable-exception hook that drops reports about coroutines and passes on the rest."""

    def __init__(self, previous: Callable[[Any], Any]) -> None:
        self.previous = previous

    def __call__(self, unraisable: Any) -> None:
        if not inspect.iscoroutine(unraisable.object):
            self.previous(unraisable)
