# d2lhpo: `make notebooks` runs the chapters, `make test` the tests; both set up first.
# Variables: PYTHON (3.11+, used to create the virtualenv), VENV, OUT.
#   make notebooks                  default budgets (minutes per notebook)
#   D2LHPO_QUICK=1 make notebooks   quick mode (under a minute per notebook)
#   make test PYTHON=python3.12 VENV=.venv312

PYTHON ?= python3
VENV   ?= .venv
OUT    ?= _output
D2L    := d2l==1.0.3
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.d2lhpo-installed
# the chapters, notebooks/NN_name.ipynb (not scratch copies such as _review_*.ipynb)
NOTEBOOKS := $(sort $(wildcard notebooks/[0-9][0-9]_*.ipynb))

.PHONY: help setup notebooks test student slides slides-offline figures clean distclean

help:
	@echo "make notebooks   execute notebooks/*.ipynb into $(OUT)/ and print a timing table"
	@echo "make test        run the test suite (pytest)"
	@echo "make student     notebooks without solutions into $(OUT)/student/"
	@echo "make slides      reveal.js decks into $(OUT)/slides/ (slides-offline: local assets)"
	@echo "make figures     regenerate img/"
	@echo "make clean       remove $(OUT)/ and caches (distclean: the virtualenv too)"

setup: $(STAMP)

# The virtualenv is created once; the package is (re)installed whenever
# pyproject.toml changes. d2l pins old numpy/pandas/matplotlib releases, so it
# goes in without its dependencies (d2lhpo's own cover what it imports).
$(STAMP): pyproject.toml
	@if [ ! -x $(BIN)/python ]; then \
	  $(PYTHON) -c 'import sys; sys.exit(sys.version_info < (3, 11))' || { \
	    echo "d2lhpo needs Python 3.11 or newer: make PYTHON=python3.12 ..." >&2; exit 1; }; \
	  echo "$(PYTHON) -m venv $(VENV)"; $(PYTHON) -m venv $(VENV); \
	fi
	$(BIN)/python -m pip install -e ".[test,bench]"
	$(BIN)/python -m pip install --no-deps $(D2L)
	touch $@

notebooks: $(STAMP)
	$(BIN)/python tools/run_notebooks.py --out $(OUT) $(NOTEBOOKS)

test: $(STAMP)
	$(BIN)/python -m pytest

student: $(STAMP)
	$(BIN)/python tools/student_version.py --out $(OUT)/student $(NOTEBOOKS)

slides: $(STAMP)
	$(BIN)/python tools/build_slides.py --out $(OUT)/slides --executed $(OUT) \
	  $(SLIDE_ASSETS) $(NOTEBOOKS)

# The same decks with reveal.js, require.js, jQuery and MathJax installed by npm
# next to them instead of loaded from CDNs: they work with no network at all.
slides-offline: $(OUT)/slides/node_modules/reveal.js
	$(MAKE) slides SLIDE_ASSETS=--assets=node_modules

$(OUT)/slides/node_modules/reveal.js:
	mkdir -p $(OUT)/slides
	npm install --prefix $(OUT)/slides --no-save --no-audit --no-fund \
	  reveal.js@4.0.2 requirejs@2.3 jquery@3.7 mathjax@2.7

figures: $(STAMP)
	$(BIN)/python tools/make_figures.py --out img

clean:
	rm -rf $(OUT) .pytest_cache .hypothesis
	find . -name __pycache__ -not -path "./$(VENV)/*" -prune -exec rm -rf {} +

distclean: clean
	rm -rf $(VENV)
