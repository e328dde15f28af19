"""heroes_lib.notebook: what a refused coroutine leaves behind is not reported; anything else still is."""

from __future__ import annotations

import gc
import sys
import types
import warnings
from typing import Any

import pytest

from heroes_lib.notebook import silence_unawaited_coroutines

pytestmark = pytest.mark.no_database


async def _query() -> None:
    """Stands in for a driver call that was refused before it could be awaited."""


@pytest.fixture
def reported(monkeypatch: pytest.MonkeyPatch) -> list[Any]:
    """Unraisable exceptions that reach the hook in place before silencing; warnings filters restored after."""
    seen: list[Any] = []
    monkeypatch.setattr(sys, "unraisablehook", seen.append)
    with warnings.catch_warnings():
        yield seen


def test_a_coroutine_freed_unawaited_warns_nothing(reported: list[Any]) -> None:
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        silence_unawaited_coroutines()
        coroutine = _query()
        del coroutine
        gc.collect()
    assert [str(warning.message) for warning in caught] == []


def test_only_reports_about_coroutines_are_dropped(reported: list[Any]) -> None:
    silence_unawaited_coroutines()
    silence_unawaited_coroutines()  # a second call adds no second layer
    coroutine = _query()
    about_coroutine = types.SimpleNamespace(object=coroutine, exc_value=KeyError("__import__"))
    about_other = types.SimpleNamespace(object=object(), exc_value=ValueError("still reported"))
    sys.unraisablehook(about_coroutine)
    sys.unraisablehook(about_other)
    coroutine.close()
    assert reported == [about_other]
    assert sys.unraisablehook.previous == reported.append  # type: ignore[attr-defined]
