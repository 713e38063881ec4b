"""Build a reveal.js slide deck per notebook, each slide fitting a 1280x720 screen.

A slide is not a notebook page: it carries a heading, a few sentences, the
few lines of code that are the point, one figure. The deck is made from the
(executed) notebook by these rules, so that nobody edits slide cells by hand:

- Left out: cells tagged ``setup``, ``parameters``, ``solution`` or ``check``,
  cells whose slide type is ``skip``, and side code (``# Side code:``).
- Every ``#``/``##`` heading starts a slide and every ``###`` heading a
  sub-slide (also where a Markdown cell has a heading in its middle).
- Prose goes on the slide while it fits (an estimate of its height at the
  deck's font sizes); what does not fit goes to the speaker notes (press
  ``s``). Lists (the summary, the exercises) continue on a sub-slide instead.
- Code is shown when it is short (at most ``MAX_CODE_LINES`` lines) and draws
  no figure; plotting code and long cells go to the speaker notes, their
  outputs stay.
- One figure per slide: a figure that does not fit, or a second one, starts a
  sub-slide under the same heading. The prose right after a figure (its
  discussion) appears as a fragment: its first sentence on the slide, the
  whole paragraph in the notes.
- Short text outputs and small tables are shown; long ones go to the notes.

If ``make notebooks`` has left an executed copy in ``--executed`` that is newer
than the notebook, the deck is built from it, so that it shows the figures;
otherwise from the notebook itself (code without outputs).

With ``--assets node_modules`` (what ``make slides`` does) the decks load
reveal.js, require.js, jQuery and MathJax 2 from that folder next to them, as
npm installs it, instead of from CDNs: they work with no network at all.

Usage:
    python tools/build_slides.py notebooks/*.ipynb [--out _output/slides]
        [--executed _output] [--assets node_modules]
"""

from __future__ import annotations

import argparse
import base64
import html
import math
import re
import sys
from dataclasses import dataclass, field
from pathlib import Path

import nbformat
from nbconvert.exporters import SlidesExporter
from nbformat.v4 import new_markdown_cell

LEFT_OUT_TAGS = {"setup", "parameters", "solution", "check"}
MERMAID_IMPORT = re.compile(r'<script type="module">\s*import mermaid from [^<]*</script>')
WIDTH, HEIGHT = 1280, 720          # the deck's size in pixels (and the screen's)
BUDGET = 600                       # estimated content height a slide may hold
MAX_CODE_LINES = 12
MAX_OUTPUT_LINES = 8
MAX_PARAGRAPH = 320                # characters; a longer paragraph shows two sentences
FIGURE_HEIGHT = 430                # figures are scaled to at most this height (CSS)
PLOTTING = re.compile(r"\bplt\.|\.plot\(|\bax(es)?\b[\[.]|\bfig\b|plot_\w+\(")
REMOTE_IMAGE = re.compile(r"!\[([^\]]*)\]\(https?://[^)]*\)")
SENTENCE_END = re.compile(r"(?<!\be\.g)(?<!\bi\.e)(?<!\bal)(?<!\bvs)(?<=[.!?])\s+(?=[A-Z(])")
# Sizes the estimate assumes; the style sheet below sets them.
STYLE = f"""<style>
.reveal {{ font-size: 27px; }}
.reveal .slides {{ text-align: left; }}
.reveal .slides section {{ padding: 0 10px; }}
.reveal h1 {{ font-size: 1.9em; }} .reveal h2 {{ font-size: 1.45em; }}
.reveal h3 {{ font-size: 1.2em; }}
.reveal h1, .reveal h2, .reveal h3 {{ margin: 0 0 0.45em 0; text-transform: none; }}
.reveal p, .reveal li {{ line-height: 1.35; }}
.reveal p {{ margin: 0 0 0.55em 0; }}
.reveal ul, .reveal ol {{ margin: 0 0 0.4em 1em; display: block; }}
.reveal li {{ margin-bottom: 0.25em; }}
.reveal pre, .reveal .highlight pre {{ font-size: 17px; line-height: 1.35; margin: 0 0 0.5em 0;
  box-shadow: none; width: 100%; }}
.reveal pre code {{ max-height: none; padding: 6px 10px; }}
.reveal img.slide-figure {{ display: block; margin: 0.2em auto 0.4em auto;
  max-width: 100%; max-height: {FIGURE_HEIGHT}px; object-fit: contain; }}
.reveal table {{ font-size: 18px; margin: 0 0 0.5em 0; }}
.reveal .jp-RenderedHTMLCommon {{ font-size: inherit; }}
.reveal .jp-RenderedHTMLCommon p {{ margin-bottom: 0.55em; }}
.reveal .jp-InputArea-prompt, .reveal .jp-OutputPrompt {{ display: none; }}
</style>
"""


def tags(cell) -> set:
    return set(cell.metadata.get("tags", []))


def on_slides(cell) -> bool:
    """Whether a cell belongs on the slides at all."""
    slide_type = cell.metadata.get("slideshow", {}).get("slide_type", "-")
    side_code = cell.cell_type == "code" and cell.source.lstrip().startswith("# Side code")
    return not (tags(cell) & LEFT_OUT_TAGS) and slide_type != "skip" and not side_code


# -- estimating heights ----------------------------------------------------------

def _plain(text: str) -> str:
    text = re.sub(r"\$([^$]+)\$", lambda m: "x" * max(1, len(m[1]) // 4), text)
    text = re.sub(r"!?\[([^\]]*)\]\([^)]*\)", r"\1", text)  # links: their text
    return re.sub(r"[*`]", "", text)


def text_height(text: str, chars_per_line: int = 78, line: int = 37) -> int:
    """Estimated height of a paragraph or list item at the deck's font size."""
    n = sum(max(1, math.ceil(len(_plain(p)) / chars_per_line))
            for p in [" ".join(text.split())])
    return n * line + 15


def block_height(block: str) -> int:
    if block.startswith("$$") or block.startswith("\\begin"):
        return 60 * (block.count("\\\\") + 1) + 30
    if re.match(r"#{1,3} ", block):
        return {1: 95, 2: 80, 3: 65}[len(block.split()[0])]
    if block.lstrip().startswith("|"):  # a Markdown table: rows of one or two lines
        return sum(40 if len(row) < 100 else 70 for row in block.splitlines()) + 20
    if LIST_ITEM.match(block):
        return sum(text_height(item, 74) for item in split_items(block))
    return text_height(block)


def code_height(lines: int) -> int:
    return lines * 23 + 30


# -- cutting Markdown into blocks ------------------------------------------------

LIST_ITEM = re.compile(r"^\s*([*-]|\d+\.)\s")


def split_items(block: str) -> list[str]:
    """The items of a Markdown list block (each with its continuation lines)."""
    items = []
    for line in block.splitlines():
        if LIST_ITEM.match(line) or not items:
            items.append(line)
        else:
            items[-1] += "\n" + line
    return items


def blocks(markdown: str) -> list[str]:
    """Paragraphs, headings, display maths and list items of a Markdown cell."""
    out, current, in_math = [], [], False

    def flush():
        if current:
            out.append("\n".join(current))
        current.clear()

    in_fence = False
    for line in markdown.splitlines():
        opens = line.count("$$") % 2 == 1
        if line.lstrip().startswith("```") or in_fence:  # fenced code: one block
            if not in_fence:
                flush()
            current.append(line)
            in_fence = not in_fence if line.lstrip().startswith("```") else in_fence
            if not in_fence:
                flush()
        elif in_math:
            current.append(line)
            if opens:  # the display maths ends here: a block of its own
                in_math = False
                flush()
        elif line.strip().startswith("$$"):
            flush()
            current.append(line)
            in_math = opens
            if not in_math:
                flush()
        elif opens:  # display maths that starts at the end of a line of prose
            current.append(line)
            in_math = True
        elif re.match(r"#{1,6} ", line):
            flush()
            out.append(line)
        elif not line.strip():
            flush()
        else:
            current.append(line)
    flush()
    result = []
    for b in out:  # one block per list item, so that a long list can continue
        result.extend(split_items(b) if LIST_ITEM.match(b) else [b])
    return result


def first_sentence(paragraph: str) -> str:
    text = " ".join(paragraph.split())
    return SENTENCE_END.split(text, maxsplit=1)[0]


# -- building the deck's cells ---------------------------------------------------

@dataclass
class Deck:
    """The deck's cells as they are made: all Markdown, with slide types."""
    cells: list = field(default_factory=list)
    heading: str = ""          # the current section's heading text
    used: int = 0              # estimated height used on the current slide
    figures: int = 0           # figures on the current slide
    notes: list = field(default_factory=list)

    def _flush_notes(self):
        if self.notes:
            self.add("\n\n".join(self.notes), "notes", 0)
            self.notes = []

    def add(self, source: str, slide_type: str = "-", height: int = 0):
        cell = new_markdown_cell(source)
        cell.metadata["slideshow"] = {"slide_type": slide_type}
        self.cells.append(cell)
        self.used += height

    def new_slide(self, heading_block: str, slide_type: str):
        self._flush_notes()
        self.heading = heading_block.lstrip("#").strip()
        self.used, self.figures = 0, 0
        self.add(heading_block, slide_type, block_height(heading_block))

    def continue_slide(self):
        """A sub-slide under the current heading, for what did not fit."""
        self._flush_notes()
        self.used, self.figures = 0, 0
        if self.heading:
            self.add(f"### {self.heading} (continued)", "subslide", 65)
        else:
            self.add("", "subslide", 0)

    def fits(self, height: int) -> bool:
        return self.used + height <= BUDGET

    def place(self, source: str, height: int, slide_type: str = "-"):
        """Put ``source`` on this slide, or on a continuation if it does not fit."""
        if not self.fits(height) and self.used > 80:
            self.continue_slide()
        self.add(source, slide_type, height)

    def finish(self):
        self._flush_notes()
        return self.cells


def figure_html(out, mime: str) -> tuple[str, int]:
    """An <img> for an image output (with its alt text) and its height on the slide."""
    data = out["data"][mime]
    alt = out.get("metadata", {}).get(mime, {}).get("alt") or "figure"
    if mime == "image/svg+xml":
        svg = data if isinstance(data, str) else "".join(data)
        m = re.search(r'<svg[^>]*?width="([\d.]+)pt"[^>]*?height="([\d.]+)pt"', svg)
        w, h = (float(m[1]) * 4 / 3, float(m[2]) * 4 / 3) if m else (640, FIGURE_HEIGHT)
        src = "data:image/svg+xml;base64," + base64.b64encode(svg.encode()).decode()
    else:
        w, h = 640, FIGURE_HEIGHT  # a PNG's size is in its header; the cap is what counts
        src = f"data:{mime};base64,{data}"
    scale = min((WIDTH - 80) / w, FIGURE_HEIGHT / h)  # as large as the slide allows
    size = f'width="{w * scale:.0f}" height="{h * scale:.0f}"'
    return (f'<img class="slide-figure" alt="{html.escape(alt)}" {size} src="{src}">',
            int(h * scale) + 20)


def text_output(text: str) -> tuple[str, int, bool]:
    """A fenced block of output text, its height, and whether it is short enough."""
    lines = text.rstrip("\n").splitlines()
    short = len(lines) <= MAX_OUTPUT_LINES and max(map(len, lines), default=0) <= 100
    return "```text\n" + "\n".join(lines) + "\n```", code_height(len(lines)), short


def add_outputs(deck: Deck, cell):
    """The outputs of a code cell: figures, text, tables (by the rules above)."""
    for out in cell.get("outputs", []):
        data = out.get("data", {})
        image = next((m for m in ("image/svg+xml", "image/png", "image/jpeg") if m in data),
                     None)
        if image:
            source, height = figure_html(out, image)
            if deck.figures or not deck.fits(height):
                deck.continue_slide()
            deck.add(source, "-", height)
            deck.figures += 1
        elif out.output_type == "stream" or "text/html" not in data:
            text = out.get("text") if out.output_type == "stream" else data.get("text/plain")
            if out.output_type == "stream" and out.get("name") == "stderr":
                continue
            if not text:
                continue
            source, height, short = text_output(text)
            if short and deck.fits(height):
                deck.add(source, "-", height)
            elif short:
                deck.place(source, height)
            else:
                deck.notes.append(source)
        else:
            table = data["text/html"]
            rows = table.count("<tr")
            height = rows * 34 + 30
            if rows <= 9:
                deck.place(f'<div class="slide-table">\n{table}\n</div>', height)
            else:
                deck.notes.append(text_output(data.get("text/plain", ""))[0])


def add_markdown(deck: Deck, cell, after_figure: bool):
    source = REMOTE_IMAGE.sub(r"\1", cell.source)
    listing = False
    for i, block in enumerate(blocks(source)):
        heading = re.match(r"(#{1,3}) ", block)
        if heading:
            deck.new_slide(block, "subslide" if len(heading[1]) == 3 else "slide")
            listing = False
            continue
        height = block_height(block)
        if block.lstrip().startswith("```"):  # code in the prose: as a code cell's
            lines = block.count("\n") - 1
            if lines <= MAX_CODE_LINES and not deck.notes:
                deck.place(block, code_height(lines))
            else:
                deck.notes.append(block)
        elif LIST_ITEM.match(block):
            # lists (summary, exercises) continue on a sub-slide; long items
            # show their first sentence, the notes the whole item
            item = block
            if height > 4 * 37:
                lead = first_sentence(re.sub(r"^\s*([*-]|\d+\.)\s+", "", block))
                marker = LIST_ITEM.match(block)[0].strip()
                item, height = f"{marker} {lead}", text_height(lead, 74)
                deck.notes.append(block)
            deck.place(item, height, "fragment" if listing or deck.used > 200 else "-")
            listing = True
        elif after_figure and i == 0:
            lead = first_sentence(block)
            lead_height = text_height(lead)
            if deck.fits(lead_height):
                deck.add(lead, "fragment", lead_height)
            deck.notes.append(block)
        else:
            shown = block
            if len(block) > MAX_PARAGRAPH and not block.startswith(("$$", "|")):
                shown = " ".join(SENTENCE_END.split(" ".join(block.split()))[:2])
                height = block_height(shown)
            # once prose has gone to the notes, the rest of it follows there
            if deck.notes or not deck.fits(height):
                deck.notes.append(block)
            else:
                deck.add(shown, "-", height)
                if shown != block:
                    deck.notes.append(block)


def add_code(deck: Deck, cell):
    lines = cell.source.rstrip().splitlines()
    draws = any(m in out.get("data", {}) for out in cell.get("outputs", [])
                for m in ("image/svg+xml", "image/png", "image/jpeg"))
    shown = (lines and len(lines) <= MAX_CODE_LINES and not draws
             and not PLOTTING.search(cell.source))
    fenced = "```python\n" + "\n".join(lines) + "\n```"
    if shown:
        deck.place(fenced, code_height(len(lines)))
    elif lines:
        deck.notes.append(fenced)
    add_outputs(deck, cell)


def slide_notebook(nb):
    """Return the deck as a notebook of Markdown cells with slide types (``nb`` untouched)."""
    deck = Deck()
    after_figure = False
    for cell in nb.cells:
        if not on_slides(cell):
            continue
        if cell.cell_type == "markdown":
            add_markdown(deck, cell, after_figure)
            after_figure = False
        elif cell.cell_type == "code":
            add_code(deck, cell)
            after_figure = deck.figures > 0 and any(
                "image/svg+xml" in o.get("data", {}) or "image/png" in o.get("data", {})
                for o in cell.get("outputs", []))
    out = nbformat.from_dict(nb)
    out.cells = deck.finish() or [new_markdown_cell("(no slides)")]
    return out


def build_deck(nb, assets: str | None = None) -> str:
    """Return the HTML of the deck for notebook ``nb`` (not modified).

    Args:
        nb: a notebook node (version 4), executed or not.
        assets: folder (relative to the deck) holding the npm packages reveal.js,
            requirejs, jquery and mathjax (2.7); by default they come from
            nbconvert's CDNs.
    """
    deck = slide_notebook(nb)
    exporter = SlidesExporter(exclude_input_prompt=True, exclude_output_prompt=True,
                              reveal_scroll=False, reveal_theme="white",
                              reveal_width=str(WIDTH), reveal_height=str(HEIGHT),
                              reveal_transition="none")
    if assets:
        exporter.reveal_url_prefix = f"{assets}/reveal.js"
        exporter.require_js_url = f"{assets}/requirejs/require.js"
        exporter.jquery_url = f"{assets}/jquery/dist/jquery.min.js"
        exporter.mathjax_url = f"{assets}/mathjax/MathJax.js?config=TeX-AMS_CHTML-full,Safe"
    html_text, _ = exporter.from_notebook_node(deck)
    if assets and not any("```mermaid" in c.source for c in deck.cells):
        # nbconvert imports mermaid (diagrams) from a CDN in every deck; ours have none
        html_text = MERMAID_IMPORT.sub("", html_text)
    # our style sheet; and Reveal as a global, for the browser test and the console
    html_text = html_text.replace("</head>", STYLE + "</head>", 1)
    return html_text.replace("function(Reveal, RevealNotes){",
                             "function(Reveal, RevealNotes){ window.Reveal = Reveal;", 1)


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
        html_text = build_deck(nbformat.read(source, as_version=4), args.assets)
        target = args.out / f"{path.stem}.slides.html"
        target.write_text(html_text, encoding="utf-8")
        print(f"{target} (from {source})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
