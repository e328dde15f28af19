"""Notebook support: what the lessons need around the code they teach.

Keeping the leftovers of errors a lesson causes on purpose out of later cells, and showing texts side by side.
"""

from __future__ import annotations

import inspect
import sys
import warnings
from collections.abc import Callable, Mapping
from html import escape
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


class SideBySide:
    """Texts shown in columns, each under its title: ``SideBySide({"SQLite": sql, ...})`` as a cell's last line.

    JupyterLab shows an HTML table whose columns keep every line whole (it scrolls sideways on a narrow page).
    Where HTML is not shown (a terminal, a text diff of the stored outputs) the texts come one after another,
    each under a ``-- title`` line. Each text is ``str(value)`` without surrounding blank space, so compiled
    SQL statements can be passed as they are.
    """

    def __init__(self, texts: Mapping[str, object]) -> None:
        self.texts = {title: str(text).strip() for title, text in texts.items()}

    def plain_text(self) -> str:
        """The texts one after another, each under its ``-- title``."""
        return "\n\n".join(f"-- {title}\n{text}" for title, text in self.texts.items())

    def html(self) -> str:
        """An HTML table: one column per text, its title on top."""
        head = "".join(f"<th style='text-align:left'>{escape(title)}</th>" for title in self.texts)
        # white-space:pre keeps each line whole; the surrounding div scrolls instead of wrapping.
        cell = "<td style='vertical-align:top'><pre style='white-space:pre; word-break:normal'>{}</pre></td>"
        body = "".join(cell.format(escape(text)) for text in self.texts.values())
        return f"<div style='overflow-x:auto'><table><tr>{head}</tr><tr>{body}</tr></table></div>"

    def _repr_mimebundle_(self, include: object = None, exclude: object = None) -> dict[str, str]:
        # IPython's display protocol: both forms, so each front end picks the richest it can show.
        return {"text/plain": self.plain_text(), "text/html": self.html()}

    def __repr__(self) -> str:
        return self.plain_text()
