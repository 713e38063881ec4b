"""The notebooks: committed clean, shaped like chapters, running in default and quick mode.

The execution tests start one kernel per notebook, in default mode (what readers
run, check cells included; shared with the book tests) and in quick mode
(``D2LHPO_QUICK=1``), both through ``conftest.py``, and fail on any error
output or any stderr output that mentions a warning. The other tests read
the notebooks as JSON and take well under a second.
"""

import re
import sys
from pathlib import Path

import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tools"))
import build_slides  # noqa: E402
import run_notebooks  # noqa: E402
import student_version  # noqa: E402

NOTEBOOKS = sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))  # not scratch copies
CHAPTERS = [p for p in NOTEBOOKS if not p.name.startswith("00_")]
COLAB = "https://colab.research.google.com/github/d2lhpo/d2lhpo/blob/main/notebooks/"


def read(path):
    return nbformat.read(path, as_version=4)


def tags(cell):
    return cell.metadata.get("tags", [])


def by_name(paths):
    return pytest.mark.parametrize("path", paths, ids=[p.stem for p in paths])


# -- committed state and conventions ----------------------------------------

@by_name(NOTEBOOKS)
def test_committed_without_outputs(path):
    dirty = [i for i, c in enumerate(read(path).cells) if c.cell_type == "code"
             and (c.outputs or c.execution_count is not None)]
    assert not dirty, f"cells {dirty} have outputs or execution counts: strip them"


@by_name(NOTEBOOKS)
def test_notebook_conventions(path):
    cells = read(path).cells
    title = cells[0]
    assert title.cell_type == "markdown" and title.source.startswith("# "), \
        "cell 1 should be the '# N. Title' markdown cell"
    assert COLAB + path.name in title.source, "cell 1 needs the Open in Colab badge"
    assert "setup" in tags(cells[1]), "cell 2 should be the code cell tagged 'setup'"
    assert "parameters" in tags(cells[2]), "cell 3 should be the cell tagged 'parameters'"
    long_lines = [(i, line) for i, c in enumerate(cells) if c.cell_type == "code"
                  for line in c.source.splitlines() if len(line) > 80]
    assert not long_lines, f"code lines over 80 columns (cell, line): {long_lines}"


def headings(cells):
    return [line.strip() for c in cells if c.cell_type == "markdown"
            for line in c.source.splitlines() if line.startswith("#")]


@by_name(CHAPTERS)
def test_chapter_shape(path):
    cells = read(path).cells
    assert "## Summary" in headings(cells)
    assert "## Exercises" in headings(cells)
    start = next(i for i, c in enumerate(cells)
                 if c.cell_type == "markdown" and "## Exercises" in c.source)
    exercises = [line for c in cells[start:]
                 if c.cell_type == "markdown" and "solution" not in tags(c)
                 for line in c.source.splitlines() if re.match(r"\s*\d+\.\s", line)]
    assert len(exercises) >= 3, f"only {len(exercises)} numbered exercises"
    assert any("solution" in tags(c) for c in cells[start:]), \
        "exercise solutions go in cells tagged 'solution'"


# -- execution ----------------------------------------------------------------

@pytest.mark.notebook
@by_name(NOTEBOOKS)
def test_runs_in_default_mode_and_its_checks_pass(path, default_runs):
    # what readers run: the budgets the text describes, and the check cells
    # asserting every number, ranking and trend the text reads off an output
    nb, seconds, error = default_runs.run(path)
    issues = run_notebooks.problems(nb)
    assert not issues and error is None, "\n".join(issues or [error])


@pytest.mark.notebook
@by_name(NOTEBOOKS)
def test_prints_no_nan(path, default_runs):
    # a time to target or a speed-up is a number or "not reached", never nan
    nb, _, _ = default_runs.run(path)
    found = [(i, line.strip()) for i, c in enumerate(nb.cells) if c.cell_type == "code"
             for out in c.outputs for text in output_texts(out)
             for line in text.splitlines() if re.search(r"\bnan\b", line, re.I)]
    assert not found, f"nan printed (cell, line): {found}"


def output_texts(out):
    if out.output_type == "stream":
        return [out.text]
    data = out.get("data", {})
    return [data[k] for k in ("text/plain", "text/html", "text/markdown") if k in data]


@by_name(CHAPTERS)
def test_chapter_checks_its_claims(path):
    checks = [c for c in read(path).cells if c.cell_type == "code" and "check" in tags(c)]
    assert checks and all("assert" in c.source for c in checks), \
        "each chapter checks the numbers its text states in cells tagged 'check'"


@pytest.mark.notebook
@by_name(NOTEBOOKS)
def test_runs_in_quick_mode(path, quick_runs):
    nb, seconds, error = quick_runs.run(path)
    issues = run_notebooks.problems(nb)
    assert not issues and error is None, "\n".join(issues or [error])


# -- tools ---------------------------------------------------------------------

@pytest.fixture
def toy_notebook(tmp_path):
    """A small notebook with one cell of each kind the tools care about."""
    def cell(make, source, slide="-", tags=()):
        c = make(source)
        c.metadata = {"slideshow": {"slide_type": slide}, "tags": list(tags)}
        return c
    nb = new_notebook(cells=[
        cell(new_markdown_cell, "# 9. Toy\n\nTITLE_TEXT", slide="slide"),
        cell(new_code_cell, "SETUP_TEXT = 1", slide="skip", tags=["setup"]),
        cell(new_markdown_cell, "## Section\n\nSHOWN_TEXT", slide="slide"),
        cell(new_code_cell, "# Side code: SKIPPED_TEXT", slide="skip"),
        cell(new_code_cell, "assert CHECK_TEXT", slide="skip", tags=["check"]),
        cell(new_markdown_cell, "## Exercises\n\n1. EXERCISE_TEXT", slide="slide"),
        cell(new_code_cell, "SOLUTION_TEXT = 2", slide="skip", tags=["solution"]),
    ], metadata={"kernelspec": {"name": "python3", "display_name": "Python 3",
                                "language": "python"}})
    path = tmp_path / "99_toy.ipynb"
    nbformat.write(nb, path)
    return path


def test_student_version_drops_solutions(toy_notebook, tmp_path):
    out = tmp_path / "student"
    assert student_version.main([str(toy_notebook), "--out", str(out)]) == 0
    cells = read(out / toy_notebook.name).cells
    sources = [c.source for c in cells]
    assert not any("SOLUTION_TEXT" in s or "CHECK_TEXT" in s for s in sources)
    assert any("EXERCISE_TEXT" in s for s in sources)
    assert len(cells) == len(read(toy_notebook).cells) - 2


@by_name(NOTEBOOKS)
def test_student_version_keeps_everything_else(path):
    nb = read(path)
    kept = [c.source for c in nb.cells if not {"solution", "check"} & set(tags(c))]
    assert [c.source for c in student_version.student_version(nb).cells] == kept


def test_slides_leave_out_setup_solution_and_skip(toy_notebook, tmp_path):
    out = tmp_path / "slides"
    assert build_slides.main([str(toy_notebook), "--out", str(out),
                              "--executed", str(tmp_path / "none")]) == 0
    html = (out / "99_toy.slides.html").read_text()
    assert "reveal" in html and "SHOWN_TEXT" in html and "EXERCISE_TEXT" in html
    for hidden in ("SETUP_TEXT", "SOLUTION_TEXT", "SKIPPED_TEXT", "CHECK_TEXT"):
        assert hidden not in html


@pytest.mark.skipif(not NOTEBOOKS, reason="no notebooks yet")
def test_slides_of_a_real_notebook():
    html = build_slides.build_deck(read(NOTEBOOKS[0]))
    assert "<section" in html
    assert "google.colab" not in html  # the setup cell stays off the slides


def test_offline_slides_load_every_asset_from_the_folder(toy_notebook):
    html = build_slides.build_deck(read(toy_notebook), assets="node_modules")
    for asset in ["reveal.js/", "requirejs/require.js", "jquery/dist/jquery.min.js",
                  "mathjax/MathJax.js"]:
        assert f"node_modules/{asset}" in html
    assert "cdnjs" not in html and "unpkg" not in html
