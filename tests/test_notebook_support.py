"""heroes_lib.notebook: what a refused statement leaves behind is closed in its block; a forgotten await still warns.

And ``SideBySide`` gives IPython an HTML table and a plain-text form of the same texts.
"""

from __future__ import annotations

import gc
import warnings

import pytest
from IPython.core.formatters import DisplayFormatter

from heroes_lib.notebook import SideBySide, discarding_unawaited_coroutines, show_source

pytestmark = pytest.mark.no_database


async def _query() -> None:
    """Stands in for a driver call that was refused before it could be awaited."""


def test_side_by_side_reads_as_plain_text_one_text_after_another() -> None:
    shown = SideBySide({"SQLite": "SELECT 1 \n", "MySQL": 42})
    assert shown.plain_text() == "-- SQLite\nSELECT 1\n\n-- MySQL\n42"
    assert repr(shown) == shown.plain_text()


def test_side_by_side_is_an_html_table_with_a_column_per_text_escaped() -> None:
    html = SideBySide({"a < b": "x & y", "two": "line 1\nline 2"}).html()
    assert html.count("<th") == 2 and html.count("<td") == 2
    assert "<th style='text-align:left'>a &lt; b</th>" in html
    assert ">x &amp; y</pre>" in html and ">line 1\nline 2</pre>" in html  # lines kept, not joined


def test_ipython_displays_both_forms_of_side_by_side() -> None:
    shown = SideBySide({"PostgreSQL": "SELECT $1::INTEGER"})
    data, _metadata = DisplayFormatter().format(shown)
    assert data["text/html"] == shown.html()
    assert data["text/plain"] == shown.plain_text()


def _refused_query() -> None:
    """Stands in for a driver whose query was refused after it created the coroutine, as aiosqlite's cursor does."""
    pending = _query()  # noqa: F841  (held by this frame, as a driver's wrapper holds its coroutine)
    raise RuntimeError("refused")


def test_discarding_closes_what_a_failure_left_behind_even_while_the_error_is_kept() -> None:
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        with pytest.raises(RuntimeError) as kept, discarding_unawaited_coroutines():
            _refused_query()
        del kept  # IPython keeps the last error alive until a later cell: freeing it must report nothing
        gc.collect()
    assert [str(warning.message) for warning in caught] == []


def test_a_forgotten_await_outside_the_block_still_warns() -> None:
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        with discarding_unawaited_coroutines():
            pass
        forgotten = _query()
        del forgotten
        gc.collect()
    assert any("was never awaited" in str(warning.message) for warning in caught)


def test_show_source_renders_a_function_as_highlighted_python() -> None:
    shown = show_source(_query)
    assert shown.data.startswith("async def _query() -> None:")
    assert "<div" in shown._repr_html_()
