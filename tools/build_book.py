"""Build the book: a static website of the executed notebooks (Sphinx, myst-nb, sphinx-book-theme).

The chapters are the executed copies that ``make notebooks`` wrote to
``--executed``; nothing is executed here. The sources (``book/``: the Sphinx
configuration, the landing page, a style sheet) and the chapters are staged in
``--build-dir``, then Sphinx writes the site to ``--out``. For the book,
solution cells are folded (shown on a click), cells tagged ``check`` are left
out, and so are widget outputs (progress bars). The landing page's chapter table
is the README's, with links. MathJax 3 is copied from the npm package given by
``--mathjax`` into the site, so pages show their maths with no network.

Usage:
    python tools/build_book.py notebooks/*.ipynb [--executed _output]
        [--out _output/book] [--mathjax _output/npm/node_modules/mathjax]
"""

from __future__ import annotations

import argparse
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

import nbformat

ROOT = Path(__file__).resolve().parents[1]
BOOK = ROOT / "book"
WIDGET = "application/vnd.jupyter.widget-view+json"
# a Markdown image from the web (the Open in Colab badge): the book keeps its text
REMOTE_IMAGE = re.compile(r"!\[([^\]]*)\]\(https?://[^)]*\)")
# what the pages load of MathJax 3 (es5/): the TeX-to-HTML bundle with every TeX
# extension, its fonts, and what its context menu loads on demand
MATHJAX_FILES = ["tex-chtml-full.js", "output/chtml/fonts/woff-v2", "ui", "a11y", "sre"]
CHAPTER_ROW = re.compile(r"^\|\s*`(\d\d_\w+)`\s*\|\s*(.+?)\s*\|\s*(\d+)\s*\|\s*(\d+)\s*\|\s*$")


def tags(cell) -> list:
    return cell.metadata.get("tags", [])


def book_notebook(nb):
    """Return a copy of executed notebook ``nb`` as the book shows it.

    Solution cells are folded: code ones get myst-nb's ``hide-cell`` tag (a
    "Show solution" button), markdown ones a ``<details>`` block. Cells tagged
    ``check`` (assertions about the prose) and widget outputs are dropped, and
    images from the web (badges) become their text, so pages load nothing remote.
    """
    nb = nbformat.from_dict(nb)  # a deep copy
    nb.metadata.pop("widgets", None)
    cells = []
    for cell in nb.cells:
        if "check" in tags(cell):
            continue
        if "solution" in tags(cell):
            if cell.cell_type == "code":
                cell.metadata["tags"] = [*tags(cell), "hide-cell"]
            else:
                cell.source = ("<details><summary>Show solution</summary>\n\n"
                               f"{cell.source}\n\n</details>")
        if cell.cell_type == "markdown":
            cell.source = REMOTE_IMAGE.sub(r"\1", cell.source)
        if cell.cell_type == "code":
            cell.outputs = [o for o in cell.outputs if WIDGET not in o.get("data", {})]
        cells.append(cell)
    nb.cells = cells
    return nb


def chapter_table(readme: str, names: list[str]) -> str:
    """The README's chapter table as Markdown with a link per chapter.

    Args:
        readme: the README's text, with rows ``| `NN_name` | what it teaches | s | s |``.
        names: the chapters in the book (notebook stems); each needs a row.
    """
    rows = {m[1]: m.groups()[1:] for line in readme.splitlines()
            if (m := CHAPTER_ROW.match(line))}
    missing = [n for n in names if n not in rows]
    if missing:
        raise ValueError(f"the README's chapter table has no row for {missing}")
    lines = ["| chapter | run time: default / quick mode |", "|---|---|"]
    for name in names:
        what, default, quick = rows[name]
        title, _, teaches = what.partition(": ")
        lines.append(f"| [{title}]({name}.ipynb): {teaches} | {default} s / {quick} s |")
    return "\n".join(lines)


def copy_mathjax(package: Path, static: Path) -> None:
    """Copy MathJax 3 (``package``: the npm package folder) into ``static/mathjax``."""
    es5 = package / "es5"
    if not (es5 / "tex-chtml-full.js").exists():
        raise FileNotFoundError(
            f"no MathJax 3 in {package}: install it with "
            f"npm install --prefix {package.parent.parent} mathjax@3 (make book does)")
    for name in MATHJAX_FILES:
        source, target = es5 / name, static / "mathjax" / name
        target.parent.mkdir(parents=True, exist_ok=True)
        if source.is_dir():
            shutil.copytree(source, target, dirs_exist_ok=True)
        else:
            shutil.copy2(source, target)


def stage(notebooks: list[Path], executed: Path, src: Path, mathjax: Path) -> None:
    """Write the Sphinx sources into ``src``: book/, the chapters, MathJax."""
    missing = [str(executed / p.name) for p in notebooks if not (executed / p.name).exists()]
    if missing:
        raise FileNotFoundError(f"no executed notebooks {missing}: run make notebooks "
                                "(make book runs the missing ones)")
    if src.exists():
        shutil.rmtree(src)
    shutil.copytree(BOOK, src)
    names = [p.stem for p in notebooks]
    for path in notebooks:
        nb = nbformat.read(executed / path.name, as_version=4)
        nbformat.write(book_notebook(nb), src / path.name)
    index = (src / "index.md").read_text(encoding="utf-8")
    table = chapter_table((ROOT / "README.md").read_text(encoding="utf-8"), names)
    index = re.sub(r"<!-- chapters:.*?-->", lambda _: table, index)
    (src / "index.md").write_text(index.replace("CHAPTERS", "\n".join(names)),
                                  encoding="utf-8")
    copy_mathjax(mathjax, src / "_static")


def build(src: Path, out: Path) -> None:
    """Run Sphinx on ``src`` into ``out``; fail on any warning."""
    if out.exists():
        shutil.rmtree(out)
    cmd = [sys.executable, "-m", "sphinx", "-b", "html", "-q", "-W", "--keep-going",
           "-d", str(src / "_doctrees"), str(src), str(out)]
    subprocess.run(cmd, check=True)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("notebooks", nargs="+", type=Path)
    parser.add_argument("--executed", type=Path, default=Path("_output"))
    parser.add_argument("--out", type=Path, default=Path("_output/book"))
    parser.add_argument("--mathjax", type=Path,
                        default=Path("_output/npm/node_modules/mathjax"))
    parser.add_argument("--build-dir", type=Path, default=None,
                        help="where the sources are staged (default: OUT/../book-src)")
    args = parser.parse_args(argv)
    src = args.build_dir or args.out.parent / "book-src"
    start = time.perf_counter()
    stage(args.notebooks, args.executed, src, args.mathjax)
    try:
        build(src, args.out)
    except subprocess.CalledProcessError as e:
        print(f"sphinx-build failed (exit status {e.returncode})", file=sys.stderr)
        return 1
    print(f"{args.out}/index.html: {len(args.notebooks)} chapters "
          f"in {time.perf_counter() - start:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
