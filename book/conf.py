"""Sphinx configuration of the d2lhpo book (built by tools/build_book.py).

The chapters are the notebooks as ``make notebooks`` executed them: nothing is
executed here. Everything the pages load is in the site itself (the theme's
assets, Sphinx's search, MathJax copied from npm into ``_static/mathjax``), so
the book builds and reads with no network.
"""

import hashlib
import json
import os
from pathlib import Path

project = "d2lhpo: hyperparameter optimization, taught in notebooks"
author = "the d2lhpo authors"
copyright = "the d2lhpo authors, MIT license"

extensions = ["myst_nb"]
nb_execution_mode = "off"                 # the executed copies come from make notebooks
nb_ipywidgets_js = {}                     # no widget JavaScript from a CDN
nb_code_prompt_show = "Show solution"     # the only cells the book folds are solutions
nb_code_prompt_hide = "Hide solution"
myst_enable_extensions = ["dollarmath", "amsmath"]
myst_heading_anchors = 3
suppress_warnings = ["mystnb.unknown_mime_type"]
exclude_patterns = ["_build", "_readme.md", "**.ipynb_checkpoints"]

html_theme = "sphinx_book_theme"
html_title = "d2lhpo"
html_static_path = ["_static"]
html_css_files = ["book.css"]
html_copy_source = True                   # the download button offers the executed notebook
html_show_sourcelink = False
html_theme_options = {
    "repository_url": "https://github.com/d2lhpo/d2lhpo",
    "repository_branch": "main",
    "path_to_docs": "notebooks",
    "use_repository_button": True,
    "launch_buttons": {"binderhub_url": "https://mybinder.org",
                       "colab_url": "https://colab.research.google.com",
                       "notebook_interface": "jupyterlab"},
    "show_toc_level": 2,
    "use_download_button": True,
}
# relative to _static; tools/build_book.py copies MathJax 3 there from npm
mathjax_path = "mathjax/tex-chtml-full.js"


def _image_bytes(mime, content):
    """The bytes myst-nb writes for an image output (it names the file by their hash)."""
    import base64
    if mime in {"image/png", "image/jpeg", "image/gif"}:
        return base64.b64decode(content)
    return os.linesep.join(content.splitlines()).encode("utf-8")


def _alt_texts(path):
    """{file hash: alt text} of the image outputs of notebook ``path``."""
    nb = json.loads(Path(path).read_text(encoding="utf-8"))
    alts = {}
    for cell in nb["cells"]:
        for out in cell.get("outputs", []):
            for mime, content in out.get("data", {}).items():
                alt = out.get("metadata", {}).get(mime, {}).get("alt")
                if mime.startswith("image/") and alt:
                    content = "".join(content) if isinstance(content, list) else content
                    alts[hashlib.sha256(_image_bytes(mime, content)).hexdigest()] = alt
    return alts


def add_alt_text(app, doctree):
    """Give every figure of a chapter the alt text the notebook stored with it."""
    path = app.env.doc2path(app.env.docname)
    if not str(path).endswith(".ipynb"):
        return
    from docutils import nodes
    alts = _alt_texts(path)
    for image in doctree.findall(nodes.image):
        alt = alts.get(Path(image["uri"]).stem)
        if alt and not image.get("alt"):
            image["alt"] = alt


def setup(app):
    app.connect("doctree-read", add_alt_text)
