"""Open the built book and slide decks in headless Chromium, offline, and report what is wrong.

The folders are served on 127.0.0.1 and every other request is refused (and
reported). Per book page: no failed request, maths typeset (no ``$...$`` or
``\\(`` left in the visible text), nothing wider than the 1280 px viewport,
every image with alt text. Per slide (at 1280x720): the same, and the slide's
content at most 720 px high. Screenshots go to ``--shots``: each book page and,
per deck, the first slide and the first slide with a figure.

Needs Playwright for Python (``pip install playwright``: it brings its driver,
not a browser) and a Chromium, e.g. Debian's ``chromium``.

Usage:
    python tools/browser_check.py [--book _output/book] [--slides _output/slides]
        [--shots _output/screenshots]
"""

from __future__ import annotations

import argparse
import contextlib
import functools
import http.server
import shutil
import sys
import tempfile
import threading
from pathlib import Path

CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update",
                 "--disable-sync"]

# Runs in the page: what a reader would see wrong. Text inside code, maths and
# elements that scroll on their own (code blocks, tables) is not prose.
PAGE_PROBLEMS_JS = r"""(root) => {
  root = root === "current slide" ? Reveal.getCurrentSlide() : document.body;
  const vw = document.documentElement.clientWidth, out = [];
  const skip = "pre, code, script, style, mjx-container, .MathJax, .MathJax_Preview, "
             + "textarea, .notes, aside";
  const walker = document.createTreeWalker(root, NodeFilter.SHOW_TEXT);
  for (let n = walker.nextNode(); n; n = walker.nextNode()) {
    const el = n.parentElement;
    if (!el || el.closest(skip) || !el.getClientRects().length) continue;
    const t = n.textContent;
    const m = t.match(/\$[^$\s][^$]*\$|\\\(|\\\[/);
    if (m && getComputedStyle(el).visibility !== "hidden")
      out.push("raw maths: " + t.trim().slice(0, 80));
  }
  const clips = (el) => {
    for (let p = el.parentElement; p; p = p.parentElement) {
      const o = getComputedStyle(p).overflowX;
      if (o === "auto" || o === "scroll" || o === "hidden" || o === "clip") return true;
    }
    return false;
  };
  if (document.documentElement.scrollWidth > vw + 1)
    out.push("page scrolls sideways: " + document.documentElement.scrollWidth + " px");
  for (const el of root.querySelectorAll("*")) {
    const r = el.getBoundingClientRect();
    if (r.width && r.height && (r.right > vw + 1) && !clips(el))
      out.push("wider than the viewport: <" + el.tagName.toLowerCase() + " class='"
               + el.className + "'> right edge at " + Math.round(r.right) + " px");
  }
  for (const img of root.querySelectorAll("img"))
    if (!(img.getAttribute("alt") || "").trim())
      out.push("image without alt text: " + (img.getAttribute("src") || "").slice(0, 60));
  return out;
}"""

WIDEST_FIGURE_JS = """() => {
  const imgs = [...document.querySelectorAll(".cell_output img")];
  if (!imgs.length) return false;
  const widest = imgs.reduce((a, b) => (b.naturalWidth > a.naturalWidth ? b : a));
  widest.scrollIntoView({block: "center"});
  return true;
}"""

MATHJAX_READY_JS = """async () => {
  if (window.MathJax && MathJax.startup && MathJax.startup.promise)
    await MathJax.startup.promise;                                   // MathJax 3
  else if (window.MathJax && MathJax.Hub)
    await new Promise(done => MathJax.Hub.Queue(done));              // MathJax 2
}"""


@contextlib.contextmanager
def serve(folder: Path):
    """Serve ``folder`` on 127.0.0.1 (a free port); yield its base URL."""
    handler = functools.partial(QuietHandler, directory=str(folder))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


class QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):  # the check reports failures itself
        pass


def chromium_path() -> str | None:
    """Debian's chromium (or whatever ``chromium`` is on the PATH), or None."""
    return shutil.which("chromium") or shutil.which("chromium-browser")


@contextlib.contextmanager
def browser(width: int = 1280, height: int = 720):
    """A fresh headless Chromium context that refuses every non-local request.

    Yields ``(context, failures)``: a Playwright browser context, and the list
    that every refused or failed request (and HTTP error) is appended to.
    """
    from playwright.sync_api import sync_playwright

    failures: list[str] = []

    def route(r):
        url = r.request.url
        if url.startswith(("http://127.0.0.1", "http://localhost", "data:", "blob:",
                           "file:", "about:")):
            r.continue_()
        else:
            failures.append(f"blocked: {url[:100]}")
            r.abort("blockedbyclient")

    with tempfile.TemporaryDirectory() as profile, sync_playwright() as p:
        context = p.chromium.launch_persistent_context(
            profile, executable_path=chromium_path(), headless=True, args=CHROMIUM_ARGS,
            viewport={"width": width, "height": height}, service_workers="block")
        context.route("**/*", route)
        context.on("requestfailed", lambda r: failures.append(
            f"failed: {r.url[:100]} ({r.failure})"))
        context.on("response", lambda r: r.status >= 400 and failures.append(
            f"HTTP {r.status}: {r.url[:100]}"))
        try:
            yield context, failures
        finally:
            context.close()


def check_book(book: Path, shots: Path | None = None) -> dict[str, list[str]]:
    """Open every page of the built book; return {page: problems} (all pages listed)."""
    pages = sorted(p.name for p in book.glob("*.html") if p.name != "genindex.html")
    report = {}
    with serve(book) as base, browser(1280, 800) as (context, failures):
        page = context.new_page()
        for name in pages:
            failures.clear()
            page.goto(f"{base}/{name}", wait_until="load")
            page.evaluate(MATHJAX_READY_JS)
            problems = page.evaluate(PAGE_PROBLEMS_JS, None)
            if name == "search.html":  # Sphinx's search runs in the page, offline
                page.goto(f"{base}/search.html?q=hyperband", wait_until="load")
                page.wait_for_selector("#search-results ul li", timeout=15000)
            if shots is not None and name != "search.html":
                shots.mkdir(parents=True, exist_ok=True)
                page.screenshot(path=str(shots / f"book_{Path(name).stem}.png"))
                # and the widest figure, where a figure would overflow if any did
                if page.evaluate(WIDEST_FIGURE_JS):
                    page.wait_for_timeout(100)
                    page.screenshot(path=str(shots / f"book_{Path(name).stem}_figure.png"))
            report[name] = failures + problems
    return report


def _slide_indices(page) -> list[tuple[int, int]]:
    return [tuple(i) for i in page.evaluate("""() => {
      const out = [];
      document.querySelectorAll(".reveal .slides > section").forEach((s, h) => {
        const inner = s.querySelectorAll(":scope > section");
        if (inner.length) inner.forEach((_, v) => out.push([h, v]));
        else out.push([h, 0]);
      });
      return out; }""")]


SLIDE_JS = r"""() => {
  const s = Reveal.getCurrentSlide();
  s.querySelectorAll(".fragment").forEach(f => f.classList.add("visible"));
  return {height: s.scrollHeight, scale: Reveal.getScale(),
          figures: s.querySelectorAll("img, svg:not(mjx-container svg)").length,
          title: (s.querySelector("h1, h2, h3") || {textContent: ""}).textContent.trim()};
}"""


def check_deck(deck: Path, shots: Path | None = None, max_height: int = 720) -> dict:
    """Open every slide of ``deck``; return {"problems": [...], "heights": [...]}.

    A slide's height is its content's height in the deck's own pixels (the
    slides are 1280x720 and shown at 1280x720, so one pixel is one pixel).
    """
    problems, heights = [], []
    with serve(deck.parent) as base, browser(1280, 720) as (context, failures):
        page = context.new_page()
        page.goto(f"{base}/{deck.name}", wait_until="load")
        page.wait_for_function("() => window.Reveal && Reveal.isReady()", timeout=20000)
        page.evaluate(MATHJAX_READY_JS)
        shot_figure = True
        for h, v in _slide_indices(page):
            page.evaluate(f"() => Reveal.slide({h}, {v})")
            info = page.evaluate(SLIDE_JS)
            heights.append(info["height"])
            where = f"slide {h}.{v} ({info['title'][:40]})"
            if info["height"] > max_height:
                problems.append(f"{where}: {info['height']} px high")
            problems += [f"{where}: {p}" for p in
                         page.evaluate(PAGE_PROBLEMS_JS, "current slide")]
            if shots is not None and ((h, v) == (0, 0) or info["figures"] and shot_figure):
                shots.mkdir(parents=True, exist_ok=True)
                page.wait_for_timeout(300)  # let the slide transition finish
                kind = "first" if (h, v) == (0, 0) else "figure"
                shot_figure = shot_figure and kind == "first"
                page.screenshot(path=str(shots / f"slides_{deck.stem.split('.')[0]}_{kind}.png"))
        problems = failures + problems
    return {"problems": problems, "heights": heights}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--book", type=Path)
    parser.add_argument("--slides", type=Path)
    parser.add_argument("--shots", type=Path)
    parser.add_argument("--max-height", type=int, default=720)
    args = parser.parse_args(argv)
    bad = 0
    if args.book:
        for name, problems in check_book(args.book, args.shots).items():
            print(f"{name}: {'ok' if not problems else ''}")
            for p in problems:
                print(f"    {p}")
            bad += bool(problems)
    if args.slides:
        for deck in sorted(args.slides.glob("*.slides.html")):
            result = check_deck(deck, args.shots, args.max_height)
            hs = result["heights"]
            print(f"{deck.name}: {len(hs)} slides, largest {max(hs)} px, "
                  f"{sum(h > args.max_height for h in hs)} over {args.max_height}")
            for p in result["problems"][:40]:
                print(f"    {p}")
            bad += bool(result["problems"])
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
