"""The static site builds offline from the stored outputs, and everything in it works.

Builds the site with its one command (``python scripts/build_site.py --out DIR``) into a temporary folder,
then checks: the contents list every lesson in order and link to the README's page; every internal link and
resource (href, src, #anchor) resolves; no page links to a notebook any more; each ```mermaid block became an
SVG; each stored plot is shown; no page loads anything from the network; and Chromium, with the network cut,
shows the diagrams, each within its box at 1280 px wide, scaled down no further than ``MIN_DIAGRAM_SCALE``
(a narrow window scrolls the diagram instead), with the navigation bar lined up with the lesson's text.
Screenshots of the contents and of the first lesson are stored in ``artifacts/site/``.
"""

from __future__ import annotations

import base64
import json
import re
import subprocess
import sys
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

import pytest
from bs4 import BeautifulSoup

from scripts.build_site import MIN_DIAGRAM_SCALE, README_PAGE
from tests.e2e.conftest import ROOT
from tests.e2e.jupyterlab import mermaid_block_count

pytestmark = [pytest.mark.e2e, pytest.mark.no_database]

NOTEBOOKS = sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))
ARTIFACTS = ROOT / "artifacts" / "site"
BUILD_TIMEOUT = 600  # seconds; one headless Chromium draws every diagram
EXTERNAL = ("http:", "https:", "mailto:")
WIDE, NARROW = {"width": 1280, "height": 900}, {"width": 800, "height": 900}
#: Per diagram: the width Mermaid drew it at (the width attribute), the width shown, and its box's width.
DIAGRAM_WIDTHS = """() => [...document.querySelectorAll('figure.course-diagram')].map(figure => {
    const svg = figure.querySelector(':scope > svg');
    return {natural: Number(svg.getAttribute('width')), shown: svg.getBoundingClientRect().width,
            height: svg.getBoundingClientRect().height, box: figure.clientWidth, scrolls: figure.scrollWidth};
})"""


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("site") / "site"
    completed = subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "build_site.py"), "--out", str(out)],
        capture_output=True,
        text=True,
        timeout=BUILD_TIMEOUT,
        cwd=ROOT,
    )
    assert completed.returncode == 0, f"the site did not build:\n{completed.stdout}\n{completed.stderr}"
    return out


def parse(page: Path) -> BeautifulSoup:
    return BeautifulSoup(page.read_text(encoding="utf-8"), "html.parser")


@pytest.fixture(scope="module")
def pages(site: Path) -> dict[Path, BeautifulSoup]:
    """Every page of the site, parsed once (a lesson page is a few hundred kB: JupyterLab's styles are inlined)."""
    return {page: parse(page) for page in sorted(site.glob("*.html"))}


def anchors_of(soup: BeautifulSoup) -> set[str]:
    return {element.get("id") for element in soup.find_all(id=True)} | {
        element.get("name") for element in soup.find_all(attrs={"name": True})
    }


def references(soup: BeautifulSoup) -> list[tuple[str, str]]:
    """(attribute, value) of every href and src on the page, SVG's xlink:href included."""
    found = []
    for element in soup.find_all(True):
        for attribute in ("href", "src", "xlink:href"):
            value = element.get(attribute)
            if value is not None:
                found.append((f"<{element.name} {attribute}>", value))
    return found


def test_contents_list_every_lesson_in_order(site: Path, pages: dict[Path, BeautifulSoup]) -> None:
    toc = pages[site / "index.html"].select("ol.course-toc a")
    assert [link["href"] for link in toc] == [f"{path.stem}.html" for path in NOTEBOOKS]
    for link, path in zip(toc, NOTEBOOKS, strict=True):
        # A lesson's title starts with its number; the appendix after the lessons says what it is instead.
        assert link.get_text().startswith((path.name[:2], "Appendix")), (
            f"{link.get_text()!r} does not start with its number"
        )


def test_the_contents_link_to_the_readme_page(site: Path, pages: dict[Path, BeautifulSoup]) -> None:
    assert pages[site / "index.html"].find("a", href=README_PAGE, string="README") is not None
    readme = pages[site / README_PAGE]
    assert readme.find("nav", class_="course-nav").find("a", href="index.html") is not None
    assert readme.find(id="Quickstart") is not None  # the install and start instructions are on it
    lesson_links = {a["href"] for a in readme.find_all("a", href=True) if re.match(r"^\d\d_", a["href"])}
    assert lesson_links == {f"{path.stem}.html" for path in NOTEBOOKS}  # the README's table, to the lesson pages


def test_every_lesson_page_has_contents_and_neighbours(site: Path, pages: dict[Path, BeautifulSoup]) -> None:
    lesson_pages = [site / f"{path.stem}.html" for path in NOTEBOOKS]
    for number, page in enumerate(lesson_pages):
        soup = pages[page]
        nav = soup.select_one("nav.course-nav")
        assert nav is not None and nav.find("a", href="index.html"), f"{page.name}: no link to the contents"
        previous = nav.find("a", rel="prev")
        following = nav.find("a", rel="next")
        assert (previous["href"] if previous else None) == (lesson_pages[number - 1].name if number else None)
        assert (following["href"] if following else None) == (
            lesson_pages[number + 1].name if number + 1 < len(lesson_pages) else None
        )


def test_every_internal_link_and_resource_resolves(site: Path, pages: dict[Path, BeautifulSoup]) -> None:
    broken = []
    anchors = {page.resolve(): anchors_of(soup) for page, soup in pages.items()}
    for page, soup in pages.items():
        for where, value in references(soup):
            if value.startswith(EXTERNAL) or value.startswith("data:"):
                continue
            parts = urlsplit(value)
            if parts.scheme or parts.netloc:
                broken.append(f"{page.name} {where}: {value} (not a relative link)")
                continue
            target = (page.parent / unquote(parts.path)).resolve() if parts.path else page
            if site.resolve() not in target.parents or not target.is_file():
                broken.append(f"{page.name} {where}: {value} (no such file in the site)")
                continue
            if parts.fragment and target.suffix == ".html":
                known = anchors[target] if target in anchors else anchors_of(parse(target))
                # As browsers do: the fragment as written, then percent-decoded (nbconvert writes encoded ids).
                if parts.fragment not in known and unquote(parts.fragment) not in known:
                    broken.append(f"{page.name} {where}: {value} (no #{unquote(parts.fragment)} there)")
    assert not broken, "broken internal links:\n" + "\n".join(broken)


def test_no_page_links_to_a_notebook(pages: dict[Path, BeautifulSoup]) -> None:
    leftovers = [
        f"{page.name}: {value}"
        for page, soup in pages.items()
        for _, value in references(soup)
        if urlsplit(value).path.endswith(".ipynb") and not value.startswith(EXTERNAL)
    ]
    assert not leftovers, leftovers


@pytest.mark.parametrize("notebook", NOTEBOOKS, ids=[path.stem for path in NOTEBOOKS])
def test_each_mermaid_block_became_an_svg_and_each_plot_shows(
    site: Path, pages: dict[Path, BeautifulSoup], notebook: Path
) -> None:
    stored = json.loads(notebook.read_text())
    soup = pages[site / f"{notebook.stem}.html"]
    svgs = soup.select("figure.course-diagram > svg")
    assert len(svgs) == mermaid_block_count(stored)
    assert not soup.select(".jp-Mermaid, pre.mermaid"), "a Mermaid block was left as code"
    for svg in svgs:
        assert svg.find(["g", "path", "rect"]) is not None, "an empty SVG"
    # A line break written in a label (<br/>) is drawn as one, not dropped with the words run together.
    mermaid_sources = [
        block
        for cell in stored["cells"]
        if cell["cell_type"] == "markdown"
        for block in re.findall(r"```mermaid\n(.*?)```", "".join(cell["source"]), re.DOTALL)
    ]
    written_breaks = sum(len(re.findall(r"<br\s*/?>", source)) for source in mermaid_sources)
    assert sum(len(svg.find_all("br")) for svg in svgs) == written_breaks

    stored_pngs = [
        output["data"]["image/png"]
        for cell in stored["cells"]
        if cell["cell_type"] == "code"
        for output in cell.get("outputs", [])
        if "image/png" in output.get("data", {})
    ]
    shown = [image["src"] for image in soup.find_all("img", src=re.compile(r"^data:image/png;base64,"))]
    assert len(shown) == len(stored_pngs), "a stored plot is missing from the page"
    for src in shown:
        assert base64.b64decode(src.split(",", 1)[1]).startswith(b"\x89PNG"), "an image that is not a PNG"


def test_each_lesson_shows_its_checks_unsolved_and_its_solutions_folded(pages: dict[Path, BeautifulSoup]) -> None:
    for notebook in NOTEBOOKS:
        cells = json.loads(notebook.read_text())["cells"]
        checks = sum("exercise-check" in cell["metadata"].get("tags", []) for cell in cells)
        soup = next(soup for page, soup in pages.items() if page.name == notebook.with_suffix(".html").name)
        solutions = [
            details
            for details in soup.find_all("details")
            if details.summary and details.summary.get_text() == "Solution"
        ]
        assert len(solutions) == checks, f"{notebook.name}: one folded solution per exercise"
        assert not any(details.has_attr("open") for details in solutions), f"{notebook.name}: a solution is unfolded"
        assert all(details.find("pre") for details in solutions), f"{notebook.name}: a solution without its code"
        text = soup.get_text()
        for number in range(1, checks + 1):
            assert f"Exercise {number}: not solved yet" in text, f"{notebook.name}: check {number} not shown unsolved"


def test_no_page_loads_anything_from_the_network(pages: dict[Path, BeautifulSoup]) -> None:
    remote = []
    for page, soup in pages.items():
        for element in soup.find_all(["script", "img", "iframe", "link", "source", "video", "audio", "embed"]):
            value = element.get("src") or (element.get("href") if element.name == "link" else None)
            if value and (value.startswith(EXTERNAL) or value.startswith("//")):
                remote.append(f"{page.name}: <{element.name}> {value}")
        if soup.find("script", src=True):
            remote.append(f"{page.name}: loads a script")
        if re.search(r"@import\s+url\(\s*['\"]?(https?:)?//", page.read_text(encoding="utf-8")):
            remote.append(f"{page.name}: CSS imports from the network")
    assert not remote, remote


def test_chromium_shows_the_diagrams_offline_within_their_box(site: Path, browser: Any) -> None:
    context = browser.new_context(viewport=WIDE)
    requested: list[str] = []

    def cut(route: Any) -> None:
        requested.append(route.request.url)
        route.abort()

    context.route(re.compile(r"^(https?|wss?)://"), cut)
    page = context.new_page()
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    too_wide = []
    try:
        page.goto((site / "index.html").as_uri())
        page.screenshot(path=str(ARTIFACTS / "index.png"), full_page=True)
        for notebook in NOTEBOOKS:
            expected = mermaid_block_count(json.loads(notebook.read_text()))
            page.goto((site / f"{notebook.stem}.html").as_uri())
            diagrams = page.evaluate(DIAGRAM_WIDTHS)
            assert len(diagrams) == expected, notebook.name
            assert all(d["shown"] > 50 and d["height"] > 20 for d in diagrams), f"{notebook.name}: {diagrams}"
            for number, diagram in enumerate(diagrams, 1):
                # At 1280 px every diagram fits its box: scaled down if need be, never cut off or scrolling.
                if diagram["shown"] > diagram["box"] + 0.5 or diagram["scrolls"] > diagram["box"]:
                    too_wide.append(f"{notebook.name}, diagram {number}: {diagram}")
                assert diagram["shown"] >= MIN_DIAGRAM_SCALE * diagram["natural"] - 1, (notebook.name, diagram)
            if expected:
                page.locator("figure.course-diagram").first.screenshot(
                    path=str(ARTIFACTS / f"{notebook.stem}.diagram.png")
                )
        page.goto((site / f"{NOTEBOOKS[0].stem}.html").as_uri())
        page.screenshot(path=str(ARTIFACTS / f"{NOTEBOOKS[0].stem}.png"), full_page=True)
    finally:
        context.close()
    assert not too_wide, "diagrams wider than their box at 1280 px:\n" + "\n".join(too_wide)
    assert not requested, f"pages asked the network for {requested}"


def test_a_narrow_window_scrolls_a_wide_diagram_instead_of_shrinking_it_illegibly(site: Path, browser: Any) -> None:
    context = browser.new_context(viewport=NARROW)
    page = context.new_page()
    try:
        page.goto((site / f"{NOTEBOOKS[0].stem}.html").as_uri())  # the course map: the widest diagram
        (course_map,) = page.evaluate(DIAGRAM_WIDTHS)
        page_width = page.evaluate("() => document.documentElement.scrollWidth")
    finally:
        context.close()
    assert course_map["natural"] * MIN_DIAGRAM_SCALE > course_map["box"], "the course map fits even at 800 px"
    assert course_map["shown"] == pytest.approx(course_map["natural"] * MIN_DIAGRAM_SCALE, abs=1)
    assert course_map["scrolls"] > course_map["box"]  # its figure scrolls sideways...
    assert page_width <= NARROW["width"]  # ...and the page does not


def test_the_navigation_bar_lines_up_with_the_lesson_text(site: Path, browser: Any) -> None:
    context = browser.new_context(viewport=WIDE)
    page = context.new_page()
    edges = {}
    try:
        for notebook in NOTEBOOKS:
            page.goto((site / f"{notebook.stem}.html").as_uri())
            edges[notebook.name] = page.evaluate(
                """() => {
                    const links = [...document.querySelector('nav.course-nav').children].map(item =>
                        item.getBoundingClientRect());
                    const text = document.querySelector('.jp-MarkdownCell h1').getBoundingClientRect();
                    return {nav: [links[0].left, links[links.length - 1].right], text: [text.left, text.right]};
                }"""
            )
    finally:
        context.close()
    for name, edge in edges.items():
        assert edge["nav"] == pytest.approx(edge["text"], abs=2), f"{name}: {edge}"
