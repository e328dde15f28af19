"""Build a static HTML site of the course from the notebooks' stored outputs.

    python scripts/build_site.py                 # -> build/site/index.html
    python scripts/build_site.py --out DIR

Nothing is executed and nothing is fetched: each notebook is converted with nbconvert as it is stored
(plots are embedded as PNG data), links between lessons (``NN_name.ipynb``) point to the HTML pages, and every
fenced ```mermaid block is drawn to an inline SVG at build time by headless Chromium (Debian's ``chromium``,
driven by Playwright) with the mermaid.js that ``npm ci --prefix site`` installs from ``site/package-lock.json``
(the version JupyterLab 4.6 ships, so diagrams look as they do in the lab). A diagram is drawn at Mermaid's
size where the page has room, scaled down to fit where it has not (never below ``MIN_DIAGRAM_SCALE``: beyond
that, the diagram scrolls sideways). The pages load no script and no file from the network; an index lists
the lessons in order and links to the README, rendered as a page of the site (``readme.html``).
"""

from __future__ import annotations

import argparse
import html
import math
import re
import shutil
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit, urlunsplit

import nbformat
from bs4 import BeautifulSoup
from nbconvert import HTMLExporter
from nbconvert.filters.markdown_mistune import markdown2html_mistune  # nbconvert's own Markdown renderer

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOKS = ROOT / "notebooks"
SITE_SOURCES = ROOT / "site"
DEFAULT_OUT = ROOT / "build" / "site"
MERMAID_JS = SITE_SOURCES / "node_modules" / "mermaid" / "dist" / "mermaid.min.js"
CHROMIUM = Path("/usr/bin/chromium")  # Debian's package; Playwright's own browser download is not used
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
README = ROOT / "README.md"
README_PAGE = "readme.html"
#: A diagram wider than its box is scaled down to fit, but not below this fraction of Mermaid's size (its
#: 16 px labels stay above 10 px); a narrower box scrolls it sideways instead.
MIN_DIAGRAM_SCALE = 0.65
MARKER_FILE = ".course-site"  # marks a folder this script built, so it may be emptied on the next build
LESSON = re.compile(r"^(\d\d)_[A-Za-z0-9_]+\.ipynb$")
FONT_STACK = "system-ui, -apple-system, 'Segoe UI', Helvetica, Arial, sans-serif"


class SiteError(Exception):
    """The site cannot be built; the message says why and what to do."""


@dataclass
class Lesson:
    """One notebook of the course: its file, its two-digit number and the title of its first heading."""

    source: Path
    number: str
    title: str

    @property
    def page(self) -> str:
        """The lesson's page in the site, e.g. ``03_async_crud.html``."""
        return self.source.with_suffix(".html").name


def lessons(folder: Path = NOTEBOOKS) -> list[Lesson]:
    """The lessons ``NN_*.ipynb`` in ``folder``, in course order."""
    found = []
    for path in sorted(folder.glob("[0-9][0-9]_*.ipynb")):
        notebook = nbformat.read(path, as_version=4)
        found.append(Lesson(source=path, number=path.name[:2], title=notebook_title(notebook, path)))
    return found


def notebook_title(notebook: nbformat.NotebookNode, path: Path) -> str:
    """The text of the first ``# heading``, without Markdown marks; else the file name."""
    for cell in notebook.cells:
        if cell.cell_type == "markdown":
            match = re.search(r"^#\s+(.+)$", cell.source, re.MULTILINE)
            if match:
                return re.sub(r"[`*_]", "", match.group(1)).strip()
    return path.stem.replace("_", " ")


# --- Mermaid ---------------------------------------------------------------------------------------------


class MermaidRenderer:
    """Draws Mermaid source to SVG in one headless Chromium page that may load nothing from the network."""

    def __init__(self) -> None:
        if not MERMAID_JS.exists():
            raise SiteError(f"{MERMAID_JS.relative_to(ROOT)} is missing: run `npm ci --prefix site` once")
        if not CHROMIUM.exists():
            raise SiteError(f"{CHROMIUM} is missing: apt-get install -y chromium")
        from playwright.sync_api import sync_playwright  # only needed when a lesson has a diagram

        self._playwright = sync_playwright().start()
        self._browser = self._playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        self._page = self._browser.new_page()
        self.refused: list[str] = []
        self._page.route(re.compile(r"^(https?|wss?|ftp)://"), self._refuse)
        self._page.set_content(f'<!doctype html><html><body style="font-family: {FONT_STACK}"></body></html>')
        self._page.add_script_tag(path=str(MERMAID_JS))
        self._page.evaluate(
            """(font) => mermaid.initialize({startOnLoad: false, securityLevel: 'strict', theme: 'default',
                                          fontFamily: font, maxTextSize: 100000})""",
            FONT_STACK,
        )

    def _refuse(self, route: Any) -> None:
        self.refused.append(route.request.url)
        route.abort()

    def svg(self, source: str, element_id: str, where: str) -> str:
        """The diagram as SVG markup; ``element_id`` must be unique on the page (its styles are scoped to it)."""
        try:
            svg = self._page.evaluate(
                "async ([id, text]) => (await mermaid.render(id, text)).svg", [element_id, source]
            )
        except Exception as error:  # Playwright reports the page's exception
            message = str(error).splitlines()[0]
            raise SiteError(f"{where}: the Mermaid diagram does not render: {message}") from None
        if self.refused:
            raise SiteError(f"{where}: Mermaid tried to load {self.refused[0]} (the site must build offline)")
        return svg

    def close(self) -> None:
        """Close the browser."""
        self._browser.close()
        self._playwright.stop()


def fitted_svg(svg_text: str) -> BeautifulSoup:
    """Mermaid's SVG at its own width where that fits, scaled down to its box where not (course.css:
    ``max-width: 100%``), but never below ``MIN_DIAGRAM_SCALE`` of that width: then the figure scrolls."""
    fragment = BeautifulSoup(svg_text, "html.parser")
    svg = fragment.find("svg")
    match = re.search(r"max-width:\s*([\d.]+)px", svg.get("style", ""))
    if match:
        natural = float(match.group(1))
        svg["width"] = str(round(natural))
        rest = re.sub(r"max-width:\s*[\d.]+px;?", "", svg["style"]).strip()
        svg["style"] = f"{rest} min-width: {math.ceil(natural * MIN_DIAGRAM_SCALE)}px;".strip()
    return fragment


# --- Pages -----------------------------------------------------------------------------------------------


def lesson_link(href: str, lesson_files: set[str]) -> str | None:
    """The HTML page for a link to a lesson notebook (``03_async_crud.ipynb#step-2``), or None."""
    parts = urlsplit(href)
    if parts.scheme or parts.netloc or not parts.path:
        return None
    name = Path(unquote(parts.path)).name
    if not name.endswith(".ipynb"):
        return None
    if name not in lesson_files:
        raise SiteError(f"a link points to {href}, which is not a lesson in notebooks/")
    return urlunsplit(("", "", name.removesuffix(".ipynb") + ".html", parts.query, parts.fragment))


def convert(
    lesson: Lesson,
    all_lessons: list[Lesson],
    exporter: HTMLExporter,
    renderer_factory: Callable[[], MermaidRenderer],
    out: Path,
) -> dict[str, int]:
    """Write the lesson's page into ``out``; return how many diagrams it drew and lesson links it rewrote."""
    notebook = nbformat.read(lesson.source, as_version=4)
    body, _ = exporter.from_notebook_node(notebook, resources={"metadata": {"name": lesson.title}})
    soup = BeautifulSoup(body, "html.parser")
    counts = {"diagrams": 0, "links": 0}

    # Offline: drop the CDN scripts (require.js, MathJax, mermaid) the template adds.
    for script in soup.find_all("script"):
        if script.get("src") or "import(" in script.get_text() or script.get("type") == "text/x-mathjax-config":
            script.decompose()

    diagrams = soup.select("div.jp-Mermaid")
    if diagrams:
        renderer = renderer_factory()
        for number, block in enumerate(diagrams, 1):
            pre = block.find("pre", class_="mermaid") or block
            # As written: nbconvert escapes "-->" but leaves tags such as <br/> in labels as tags, which
            # get_text() would drop (joining "only<br/>after" into "onlyafter").
            source = html.unescape(pre.decode_contents())
            where = f"{lesson.source.name}, diagram {number}"
            svg = renderer.svg(source.strip(), f"mermaid-{lesson.number}-{number}", where)
            figure = soup.new_tag("figure", attrs={"class": "course-diagram"})
            figure.append(fitted_svg(svg))
            block.replace_with(figure)
            counts["diagrams"] += 1

    lesson_files = {item.source.name for item in all_lessons}
    for anchor in soup.find_all("a", href=True):
        target = lesson_link(anchor["href"], lesson_files)
        if target:
            anchor["href"] = target
            counts["links"] += 1

    copy_local_images(soup, lesson.source.parent, out)
    add_navigation(soup, lesson, all_lessons)
    (out / lesson.page).write_text(str(soup), encoding="utf-8")
    return counts


def copy_local_images(soup: BeautifulSoup, folder: Path, out: Path) -> None:
    """Images that Markdown cells load from a file beside the notebooks travel with the page."""
    for image in soup.find_all("img", src=True):
        copy_local_file(image["src"], "an image", folder, out)


def copy_local_file(reference: str, what: str, folder: Path, out: Path) -> None:
    """Copy the file a relative ``reference`` names under ``folder`` to the same place under ``out``."""
    parts = urlsplit(reference)
    if parts.scheme or parts.netloc or not parts.path:
        return  # data: URIs (plots, attachments) are already in the page; other sites are not ours
    source = (folder / unquote(parts.path)).resolve()
    if not source.is_file() or folder.resolve() not in source.parents:
        raise SiteError(f"{what} points to {reference}, which is not a file under {folder.name}/")
    target = out / source.relative_to(folder.resolve())
    target.parent.mkdir(parents=True, exist_ok=True)
    shutil.copy2(source, target)


def nav_links(lesson: Lesson | None, all_lessons: list[Lesson]) -> str:
    """The navigation bar: previous lesson, contents, next lesson."""
    items = ['<a href="index.html">Contents</a>']
    if lesson is not None:
        position = all_lessons.index(lesson)
        if position > 0:
            previous = all_lessons[position - 1]
            items.insert(0, f'<a rel="prev" href="{previous.page}">← {html.escape(previous.title)}</a>')
        if position + 1 < len(all_lessons):
            following = all_lessons[position + 1]
            items.append(f'<a rel="next" href="{following.page}">{html.escape(following.title)} →</a>')
    return '<nav class="course-nav">' + " ".join(f"<span>{item}</span>" for item in items) + "</nav>"


def add_navigation(soup: BeautifulSoup, lesson: Lesson, all_lessons: list[Lesson]) -> None:
    """Give a lesson page the site's stylesheet, a title and a navigation bar above and below."""
    soup.head.append(BeautifulSoup('<link rel="stylesheet" href="course.css">', "html.parser"))
    if soup.title is not None:
        soup.title.string = f"{lesson.title} · {course_title()}"
    body = soup.body
    body.insert(0, BeautifulSoup(nav_links(lesson, all_lessons), "html.parser"))
    body.append(BeautifulSoup(nav_links(lesson, all_lessons), "html.parser"))


def course_title() -> str:
    """The course's title: the README's first heading."""
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    match = re.search(r"^#\s+(.+)$", readme, re.MULTILINE)
    return match.group(1).strip() if match else "The course"


def standalone_page(title: str, body_class: str, body: str) -> str:
    """A page of the site that is not a lesson: the index, the README."""
    return f"""<!DOCTYPE html>
<html lang="en">
<head>
  <meta charset="utf-8">
  <meta name="viewport" content="width=device-width, initial-scale=1">
  <title>{title}</title>
  <link rel="stylesheet" href="course.css">
</head>
<body class="course-page {body_class}">
{body}
</body>
</html>
"""


def index_page(all_lessons: list[Lesson]) -> str:
    """The contents page: every lesson, in order, and a link to the README."""
    items = "\n".join(f'    <li><a href="{lesson.page}">{html.escape(lesson.title)}</a></li>' for lesson in all_lessons)
    title = html.escape(course_title())
    body = f"""  <h1>{title}</h1>
  <p>The lessons, in order. Each page shows a notebook as it is stored, with its outputs; to run one, open it
  in JupyterLab: the <a href="{README_PAGE}">README</a> says how to install the course and start it.</p>
  <ol class="course-toc">
{items}
  </ol>"""
    return standalone_page(title, "course-index", body)


def readme_page(all_lessons: list[Lesson], out: Path) -> str:
    """The README as a page: links to lessons go to their pages, the files it links to travel with it."""
    soup = BeautifulSoup(markdown2html_mistune(README.read_text(encoding="utf-8")), "html.parser")
    lesson_files = {lesson.source.name for lesson in all_lessons}
    for anchor in soup.find_all("a", href=True):
        target = lesson_link(anchor["href"], lesson_files)
        if target:
            anchor["href"] = target
        elif not anchor["href"].startswith("#"):
            copy_local_file(anchor["href"], "a README link", ROOT, out)  # e.g. LICENSE
    for image in soup.find_all("img", src=True):
        copy_local_file(image["src"], "a README image", ROOT, out)
    nav = '<nav class="course-nav"><span><a href="index.html">Contents</a></span></nav>'
    return standalone_page(f"README · {html.escape(course_title())}", "course-readme", f"{nav}\n{soup}")


def prepare(out: Path) -> None:
    """Empty ``out`` (only if this script built it) and mark it as built by this script."""
    if out.exists():
        if any(out.iterdir()) and not (out / MARKER_FILE).exists():
            raise SiteError(f"{out} is not empty and was not built by this script; choose another --out")
        shutil.rmtree(out)
    out.mkdir(parents=True)
    (out / MARKER_FILE).write_text("built by scripts/build_site.py\n")


def build(out: Path = DEFAULT_OUT) -> dict[str, int]:
    """Build the whole site into ``out``; return the number of pages, diagrams and rewritten lesson links."""
    all_lessons = lessons()
    if not all_lessons:
        raise SiteError(f"no notebooks/NN_*.ipynb in {NOTEBOOKS}")
    prepare(out)
    shutil.copy2(SITE_SOURCES / "course.css", out / "course.css")
    exporter = HTMLExporter(template_name="lab")  # one for all pages: it loads its templates and styles once
    renderer: MermaidRenderer | None = None

    def renderer_factory() -> MermaidRenderer:
        nonlocal renderer
        if renderer is None:
            renderer = MermaidRenderer()
        return renderer

    totals = {"pages": 0, "diagrams": 0, "links": 0}
    try:
        for lesson in all_lessons:
            counts = convert(lesson, all_lessons, exporter, renderer_factory, out)
            totals["pages"] += 1
            totals["diagrams"] += counts["diagrams"]
            totals["links"] += counts["links"]
    finally:
        if renderer is not None:
            renderer.close()
    (out / "index.html").write_text(index_page(all_lessons), encoding="utf-8")
    (out / README_PAGE).write_text(readme_page(all_lessons, out), encoding="utf-8")
    return totals


def main(argv: list[str] | None = None) -> int:
    """The command line; returns the exit status."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help=f"output folder (default: {DEFAULT_OUT})")
    args = parser.parse_args(argv)
    started = time.perf_counter()
    try:
        totals = build(args.out.resolve())
    except SiteError as error:
        print(f"build_site: {error}", file=sys.stderr)
        return 1
    print(
        f"built {totals['pages']} lessons, {totals['diagrams']} diagrams, {totals['links']} lesson links "
        f"into {args.out}/ in {time.perf_counter() - started:.1f} s (open {args.out}/index.html)"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
