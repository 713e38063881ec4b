"""Build a reveal.js slide deck per notebook (what ``jupyter nbconvert --to slides`` does).

Cells tagged ``setup`` or ``solution`` and cells whose slide type is ``skip``
are left out. If ``make notebooks`` has left an executed copy in ``--executed``
that is newer than the notebook, the deck is built from it, so that it shows
the figures; otherwise from the notebook itself (code without outputs).

With ``--assets node_modules`` the decks load reveal.js, require.js, jQuery and
MathJax from that folder (next to the decks, as ``make slides-offline`` installs
them with npm) instead of from CDNs, so they work with no network at all.

Usage:
    python tools/build_slides.py notebooks/*.ipynb [--out _output/slides]
        [--executed _output] [--assets node_modules]
"""

from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path

import nbformat
from nbconvert.exporters import SlidesExporter

LEFT_OUT_TAGS = {"setup", "solution"}
MERMAID_IMPORT = re.compile(r'<script type="module">\s*import mermaid from [^<]*</script>')


def on_slides(cell) -> bool:
    """Whether a cell belongs on the slides."""
    tags = set(cell.metadata.get("tags", []))
    slide_type = cell.metadata.get("slideshow", {}).get("slide_type", "-")
    return not (tags & LEFT_OUT_TAGS) and slide_type != "skip"


def build_deck(nb, assets: str | None = None) -> str:
    """Return the HTML of the deck for notebook ``nb`` (not modified).

    Args:
        nb: a notebook node (version 4).
        assets: folder (relative to the deck) holding the npm packages reveal.js,
            requirejs, jquery and mathjax (2.7); by default they come from
            nbconvert's CDNs.
    """
    nb = nbformat.from_dict(nb)
    nb.cells = [c for c in nb.cells if on_slides(c)]
    exporter = SlidesExporter(exclude_input_prompt=True, exclude_output_prompt=True,
                              reveal_scroll=True)
    if assets:
        exporter.reveal_url_prefix = f"{assets}/reveal.js"
        exporter.require_js_url = f"{assets}/requirejs/require.js"
        exporter.jquery_url = f"{assets}/jquery/dist/jquery.min.js"
        exporter.mathjax_url = f"{assets}/mathjax/MathJax.js?config=TeX-AMS_CHTML-full,Safe"
    html, _ = exporter.from_notebook_node(nb)
    if assets and not any("```mermaid" in c.source for c in nb.cells):
        # nbconvert imports mermaid (diagrams) from a CDN in every deck; ours have none
        html = MERMAID_IMPORT.sub("", html)
    return html


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("notebooks", nargs="+", type=Path)
    parser.add_argument("--out", type=Path, default=Path("_output/slides"))
    parser.add_argument("--executed", type=Path, default=Path("_output"))
    parser.add_argument("--assets", help="npm packages folder, relative to --out")
    args = parser.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    for path in args.notebooks:
        executed = args.executed / path.name
        source = (executed if executed.exists()
                  and executed.stat().st_mtime >= path.stat().st_mtime else path)
        html = build_deck(nbformat.read(source, as_version=4), args.assets)
        target = args.out / f"{path.stem}.slides.html"
        target.write_text(html, encoding="utf-8")
        print(f"{target} (from {source})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
