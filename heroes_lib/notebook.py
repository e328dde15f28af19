"""Notebook support: what the lessons need around the code they teach.

Keeping the leftovers of errors a lesson causes on purpose out of later cells, showing the source of the code a
lesson relies on, and showing texts side by side.
"""

from __future__ import annotations

import gc
import inspect
import textwrap
import warnings
from collections.abc import Coroutine, Iterator, Mapping
from contextlib import contextmanager
from html import escape
from typing import Any

from IPython.display import Code

UNAWAITED_COROUTINE = "coroutine .* was never awaited"


@contextmanager
def discarding_unawaited_coroutines() -> Iterator[None]:
    """Around one statement that fails on purpose: close the coroutines its failure leaves behind.

    A query that SQLAlchemy refuses (``MissingGreenlet``), or that a running event loop refuses, can leave a
    driver's coroutine behind that was created but never awaited. Python reports it as
    ``RuntimeWarning: coroutine ... was never awaited`` when the garbage collector frees it, which can be in
    any later cell (IPython keeps the last error, and with it the coroutine, alive). Inside this block the
    error still propagates as usual; on the way out the never-started coroutines its traceback holds are
    closed, and leftovers already freed are collected, so nothing is reported later. Only this block is
    affected: a forgotten ``await`` anywhere else still warns.
    """
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=UNAWAITED_COROUTINE, category=RuntimeWarning)
        try:
            yield
        except BaseException as error:
            for coroutine in _unstarted_coroutines(error):
                coroutine.close()  # a closed coroutine is never reported as "never awaited"
            raise
        finally:
            gc.collect()


def _unstarted_coroutines(error: BaseException) -> list[Coroutine[Any, Any, Any]]:
    """The coroutines created but never started that the error's frames (or objects in them) hold."""
    found: dict[int, Coroutine[Any, Any, Any]] = {}
    errors: list[BaseException] = []
    pending: BaseException | None = error
    while pending is not None and pending not in errors:  # the error, the error it was raised from, ...
        errors.append(pending)
        pending = pending.__cause__ or pending.__context__
    for each in errors:
        traceback = each.__traceback__
        while traceback is not None:
            # Locals, and what each local holds (a driver's awaitable wrapper keeps its coroutine inside).
            for value in traceback.tb_frame.f_locals.values():
                for candidate in (value, *gc.get_referents(value)):
                    if inspect.iscoroutine(candidate) and inspect.getcoroutinestate(candidate) == "CORO_CREATED":
                        found[id(candidate)] = candidate
            traceback = traceback.tb_next
    return list(found.values())


def show_source(obj: object) -> Code:
    """The source code of a function, class or module, highlighted, as a cell's output (``show_source(make_engine)``).

    The lessons use it to show the code of ``heroes_lib`` they rely on, so nothing a lesson depends on stays hidden.
    """
    source = textwrap.dedent(inspect.getsource(obj))  # type: ignore[arg-type]  # any function, class or module
    return Code(source, language="python")  # type: ignore[no-untyped-call]  # IPython.display is not annotated


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
