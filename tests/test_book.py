"""The book and the slide decks: built from the notebooks run in default mode, opened in Chromium.

The module takes every chapter executed once in default mode (the session's
shared run, tests/conftest.py), builds the book and the
decks from the executed copies with the tools ``make book`` and ``make
slides`` use, and opens every page and every slide in headless Chromium with
every non-local request refused (``tools/browser_check.py``). Screenshots go
to ``_output/screenshots/``. Without Chromium, Playwright or npm the browser
tests are skipped, except in CI (``CI`` set), where they must run. The slide
rules and the figure sizes are also checked without a browser.
"""

import html.parser
import importlib.util
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook, new_output

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tools"))
import browser_check  # noqa: E402
import build_book  # noqa: E402
import build_slides  # noqa: E402
import run_notebooks  # noqa: E402

NOTEBOOKS = sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))
CHAPTERS = [p for p in NOTEBOOKS if not p.name.startswith("00_")]
SHOTS = ROOT / "_output" / "screenshots"
NPM_BOOK = ROOT / "_output" / "npm"                  # what make book installs
NPM_SLIDES = ROOT / "_output" / "slides"             # what make slides installs
SLIDE_PACKAGES = ["reveal.js@4.0.2", "requirejs@2.3", "jquery@3.7", "mathjax@2.7"]
# figsize at most 10 x 7 in; the inline backend's tight bounding box adds
# pad_inches = 0.1 on each side
MAX_FIGURE_INCHES = (10.2, 7.2)


def require_browser():
    missing = [name for name, there in [
        ("chromium", browser_check.chromium_path()),
        ("playwright", importlib.util.find_spec("playwright")),
        ("npm", shutil.which("npm"))] if not there]
    if missing and os.environ.get("CI"):
        pytest.fail(f"CI must run the browser tests, but {missing} is missing "
                    "(make test installs chromium and npm; the test extra, playwright)")
    if missing:
        pytest.skip(f"{', '.join(missing)} not installed: the book and the slides are "
                    "not checked in a browser (make test installs them)")


def npm_install(prefix: Path, packages: list[str], marker: str):
    if not (prefix / "node_modules" / marker).exists():
        prefix.mkdir(parents=True, exist_ok=True)
        subprocess.run(["npm", "install", "--no-save", "--no-audit", "--no-fund",
                        "--prefix", str(prefix), *packages], check=True,
                       capture_output=True)


@pytest.fixture(scope="module")
def executed(default_runs):
    """The folder of the chapters executed in default mode (see conftest.py)."""
    require_browser()
    for path in NOTEBOOKS:
        _, _, error = default_runs.run(path)
        assert error is None, f"{path.name}: {error}"
    return default_runs.folder


@pytest.fixture(scope="module")
def book(executed, tmp_path_factory):
    npm_install(NPM_BOOK, ["mathjax@3"], "mathjax/es5/tex-chtml-full.js")
    out = tmp_path_factory.mktemp("site") / "book"
    assert build_book.main([*map(str, NOTEBOOKS), "--executed", str(executed),
                            "--out", str(out),
                            "--mathjax", str(NPM_BOOK / "node_modules" / "mathjax")]) == 0
    return out


@pytest.fixture(scope="module")
def slides(executed, tmp_path_factory):
    npm_install(NPM_SLIDES, SLIDE_PACKAGES, "reveal.js")
    out = tmp_path_factory.mktemp("site") / "slides"
    out.mkdir()
    (out / "node_modules").symlink_to(NPM_SLIDES / "node_modules")
    assert build_slides.main([*map(str, NOTEBOOKS), "--out", str(out), "--executed",
                              str(executed), "--assets", "node_modules"]) == 0
    return out


# -- the book -------------------------------------------------------------------

class Images(html.parser.HTMLParser):
    def __init__(self):
        super().__init__()
        self.images = []

    def handle_starttag(self, tag, attrs):
        if tag == "img":
            self.images.append(dict(attrs))


def test_every_book_page_in_the_browser(book):
    report = browser_check.check_book(book, SHOTS)
    assert {f"{p.stem}.html" for p in NOTEBOOKS} | {"index.html", "search.html"} <= set(report)
    problems = [f"{page}: {p}" for page, ps in report.items() for p in ps]
    assert not problems, "\n".join(problems)


def test_every_image_of_the_book_has_alt_text(book):
    images = []
    for page in book.glob("*.html"):
        parser = Images()
        parser.feed(page.read_text(encoding="utf-8"))
        images += [(page.name, i) for i in parser.images]
    assert len([i for _, i in images if "_images/" in i.get("src", "")]) >= 40
    bare = [(page, i.get("src", "")[:60]) for page, i in images
            if not (i.get("alt") or "").strip()]
    assert not bare, bare


def test_book_pages_have_the_chapter_parts(book):
    index = (book / "index.html").read_text(encoding="utf-8")
    for path in NOTEBOOKS:
        assert f'href="{path.stem}.html"' in index, f"the landing page lacks {path.stem}"
    assert "Colab" in index and "Binder" in index and re.search(r"\d+ s / \d+ s", index)
    for path in CHAPTERS:
        page = (book / f"{path.stem}.html").read_text(encoding="utf-8")
        assert 'id="summary"' in page and 'id="exercises"' in page, path.stem
        assert 'class="prev-next-area"' in page, f"{path.stem}: no previous/next links"
        # every solution cell is folded: myst-nb's <details> (shown on a click)
        n_solutions = sum("solution" in c.metadata.get("tags", [])
                          for c in nbformat.read(path, as_version=4).cells)
        folded = re.findall(r"<details(?![^>]*\bopen\b)[^>]*>", page)  # closed ones
        assert len(folded) == n_solutions, path.stem
    assert (book / "searchindex.js").exists() and (book / "search.html").exists()
    for page in book.glob("*.html"):  # nothing loaded from the web (links are fine)
        remote = re.findall(r'<(?:script|img|link)\b[^>]*(?:src|href)="(https?://[^"]+)"',
                            page.read_text(encoding="utf-8"))
        assert not remote, f"{page.name} loads {remote}"


def test_figures_fit_the_text_column(executed):
    too_big = []
    for path in sorted(executed.glob("*.ipynb")):
        for i, cell in enumerate(nbformat.read(path, as_version=4).cells):
            for out in cell.get("outputs", []):
                svg = out.get("data", {}).get("image/svg+xml")
                if svg is None:
                    continue
                m = re.search(r'<svg[^>]*?width="([\d.]+)pt"[^>]*?height="([\d.]+)pt"', svg)
                w, h = float(m[1]) / 72, float(m[2]) / 72
                if w > MAX_FIGURE_INCHES[0] or h > MAX_FIGURE_INCHES[1]:
                    too_big.append(f"{path.stem} cell {i}: {w:.1f} x {h:.1f} in")
    assert not too_big, too_big


# -- the slides -----------------------------------------------------------------

@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_every_slide_fits_the_screen(slides, path):
    result = browser_check.check_deck(slides / f"{path.stem}.slides.html", SHOTS)
    assert len(result["heights"]) >= 5
    assert max(result["heights"]) <= 720
    assert not result["problems"], "\n".join(result["problems"])


def test_the_checker_sees_what_is_wrong(tmp_path):
    require_browser()
    page = tmp_path / "bad" / "index.html"
    page.parent.mkdir()
    page.write_text('<html><body><p>raw $x^2$ maths</p><img src="x.png">'
                    '<div style="width: 3000px">wide</div>'
                    '<script src="https://cdn.example.org/a.js"></script></body></html>')
    report = browser_check.check_book(page.parent)["index.html"]
    for expected in ["raw maths", "image without alt", "wider than the viewport",
                     "blocked: https://cdn.example.org/a.js", "HTTP 404"]:
        assert any(expected in p for p in report), (expected, report)


def toy(cells):
    nb = new_notebook(cells=cells)
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3",
                                 "language": "python"}
    return nb


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_every_heading_starts_a_slide(path):
    nb = nbformat.read(path, as_version=4)
    wanted = [line for c in nb.cells if c.cell_type == "markdown" and build_slides.on_slides(c)
              for line in c.source.splitlines() if re.match(r"#{1,3} ", line)]
    starts = [c.source for c in build_slides.slide_notebook(nb).cells
              if c.metadata["slideshow"]["slide_type"] in ("slide", "subslide")]
    expected = ["subslide" if h.startswith("### ") else "slide" for h in wanted]
    got = [c.metadata["slideshow"]["slide_type"] for c in build_slides.slide_notebook(nb).cells
           if c.source in wanted]
    assert [s for s in starts if s in wanted] == wanted
    assert got == expected


def test_slide_rules():
    svg = ('<svg xmlns="http://www.w3.org/2000/svg" width="360pt" height="216pt">'
           '<rect width="10" height="10"/></svg>')
    figure = new_code_cell("fig, ax = plt.subplots()\nax.plot([1, 2])\nplt.show()",
                           outputs=[new_output("display_data", data={
                               "image/svg+xml": svg, "text/plain": "<Figure>"},
                               metadata={"image/svg+xml": {"alt": "Figure: ALT_TEXT."}})])
    long_prose = " ".join(["This sentence is filler prose for the notes."] * 40)
    nb = toy([new_markdown_cell("# 9. Toy\n\nIntro."),
              new_markdown_cell("## Section\n\nLead.\n\n### Detail\n\n" + long_prose),
              new_code_cell("x = 1  # KEY_CODE", outputs=[
                  new_output("stream", name="stdout", text="SHORT_OUTPUT\n")]),
              figure,
              new_markdown_cell("The figure shows FIRST_SENTENCE. MORE_DISCUSSION here."),
              new_code_cell("\n".join(f"y{i} = {i}" for i in range(20))),
              new_markdown_cell("## Sketch\n\nNot run:\n\n```python\n"
                                + "\n\n".join(f"z{i} = {i}" for i in range(15))
                                + "\n```\n\nAfter the sketch.")])
    cells = build_slides.slide_notebook(nb).cells
    kinds = [(c.metadata["slideshow"]["slide_type"], c.source[:20]) for c in cells]
    types = [k for k, _ in kinds]
    assert ("slide", "## Section") in kinds and ("subslide", "### Detail") in kinds
    notes = "\n".join(c.source for c in cells if c.metadata["slideshow"]["slide_type"] == "notes")
    shown = "\n".join(c.source for c in cells if c.metadata["slideshow"]["slide_type"] != "notes")
    assert "KEY_CODE" in shown and "SHORT_OUTPUT" in shown      # short code: the point
    assert "plt.subplots" in notes and "plt.subplots" not in shown  # plotting code: notes
    assert "y19 = 19" in notes and "y19 = 19" not in shown        # long code: notes
    assert shown.count("filler prose") <= 2 and long_prose in notes
    assert 'alt="Figure: ALT_TEXT."' in shown
    fragment = next(c.source for c in cells
                    if c.metadata["slideshow"]["slide_type"] == "fragment")
    assert fragment == "The figure shows FIRST_SENTENCE."
    assert "MORE_DISCUSSION" in notes
    assert types.count("slide") == 3  # the title and the ## headings
    # a long fenced block in the prose (with blank lines) goes to the notes whole
    assert "z0 = 0" not in shown and notes.count("```python") == 1 + 2


# -- alt text (d2lhpo.plots.alt_text and the display hook of set_style) ----------

def test_alt_text_says_what_the_figure_shows():
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from d2lhpo.plots import alt_text

    fig, axes = plt.subplots(1, 2)
    axes[0].plot([0, 1], [1, 0], label="random search")
    axes[0].plot([0, 1], [1, 2], label="BO")
    axes[0].legend()
    axes[0].set(title="Branin", xlabel="evaluations", ylabel="regret")
    axes[1].set(title=r"fitted $\ell$", xlabel="x")
    fig.suptitle("two panels")
    text = alt_text(fig)
    plt.close(fig)
    assert text.startswith("Figure with 2 panels: two panels.")
    for part in ["Branin", "x axis: evaluations", "y axis: regret",
                 "legend: random search, BO", "fitted ℓ"]:
        assert part in text, (part, text)
    with pytest.raises(TypeError, match="fig"):
        alt_text("not a figure")


def test_set_style_attaches_alt_text_to_displayed_figures():
    # in a fresh interpreter: the check starts an IPython shell of its own
    script = (
        "from IPython.core.interactiveshell import InteractiveShell\n"
        "shell = InteractiveShell.instance()\n"
        "import matplotlib; matplotlib.use('Agg')\n"
        "import matplotlib.pyplot as plt, d2lhpo as hpo\n"
        "hpo.set_style(); hpo.set_style()  # twice: one alt text, not nested\n"
        "fig, ax = plt.subplots(); ax.set(title='T', xlabel='X')\n"
        "data, md = shell.display_formatter.format(fig)\n"
        "print(repr(md['image/svg+xml']['alt']), 'image/svg+xml' in data)\n")
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                         cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT)}, check=True)
    assert out.stdout.strip() == "'Figure: T; x axis: X.' True", out
