# d2lhpo: `make notebooks` runs the chapters, `make test` the tests; both set up first.
# Variables: PYTHON (3.11+, used to create the virtualenv), VENV, OUT, TORCH.
#   make notebooks                  default budgets (minutes per notebook)
#   D2LHPO_QUICK=1 make notebooks   quick mode (under a minute per notebook)
#   make notebooks TORCH=cpu        a virtualenv with the CPU-only PyTorch (~1.5 GB, not ~6)
#   make test PYTHON=python3.12 VENV=.venv312

PYTHON ?= python3
VENV   ?= .venv
OUT    ?= _output
# TORCH=cpu installs torch and torchvision from PyTorch's CPU-only wheel index
# before the package; by default pip takes PyPI's, which on Linux x86_64 is the
# CUDA build (the nvidia-* and triton wheels, about 4 GB more).
TORCH  ?= default
TORCH_CPU_INDEX := https://download.pytorch.org/whl/cpu
D2L    := d2l==1.0.3
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.d2lhpo-installed
# the chapters, notebooks/NN_name.ipynb (not scratch copies such as _review_*.ipynb)
NOTEBOOKS := $(sort $(wildcard notebooks/[0-9][0-9]_*.ipynb))
EXECUTED  := $(patsubst notebooks/%,$(OUT)/%,$(NOTEBOOKS))
NPM       := $(OUT)/npm
NPM_INSTALL := npm install --no-save --no-audit --no-fund --prefix

.PHONY: help setup notebooks test browser-deps lab book slides slides-cdn slides-offline browser-check \
        student figures clean distclean

help:
	@echo "make notebooks   execute notebooks/*.ipynb into $(OUT)/ and print a timing table"
	@echo "make test        run the test suite (pytest; it builds and checks the book and slides)"
	@echo "make lab         JupyterLab on the notebooks, from the virtualenv"
	@echo "make book        the book website in $(OUT)/book/ (runs the notebooks not yet run)"
	@echo "make slides      reveal.js decks in $(OUT)/slides/, working offline (slides-cdn: CDN assets)"
	@echo "make browser-check  open the book and decks in headless Chromium, screenshots in $(OUT)/screenshots/"
	@echo "make student     notebooks without solutions into $(OUT)/student/"
	@echo "make figures     regenerate img/"
	@echo "make clean       remove $(OUT)/ and caches (distclean: the virtualenv too)"
	@echo "Options: TORCH=cpu (CPU-only PyTorch), PYTHON=..., VENV=..., OUT=..."

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
	@case "$(TORCH)" in \
	  cpu) echo "$(BIN)/python -m pip install torch torchvision --index-url $(TORCH_CPU_INDEX)"; \
	       $(BIN)/python -m pip install torch torchvision --index-url $(TORCH_CPU_INDEX);; \
	  default) ;; \
	  *) echo "TORCH must be 'cpu' or 'default', got '$(TORCH)'" >&2; exit 1;; \
	esac
	$(BIN)/python -m pip install -e ".[test,bench]"
	$(BIN)/python -m pip install --no-deps $(D2L)
	touch $@

notebooks: $(STAMP)
	$(BIN)/python tools/run_notebooks.py --out $(OUT) $(NOTEBOOKS)

# One executed chapter, for the book and the slides: only those missing or
# older than their notebook are run (D2LHPO_QUICK=1 applies here too).
$(OUT)/%.ipynb: notebooks/%.ipynb | $(STAMP)
	$(BIN)/python tools/run_notebooks.py --out $(OUT) $< || { rm -f $@; exit 1; }

test: $(STAMP) browser-deps
	$(BIN)/python -m pytest

# The browser test (tests/test_book.py) needs Debian's chromium, and npm for the
# book's MathJax and the decks' reveal.js; it must run, not skip, so `make test`
# installs them with apt-get where they are missing (and says so if it cannot).
BROWSER_DEPS := chromium npm
browser-deps:
	@missing=""; for c in $(BROWSER_DEPS); do command -v $$c >/dev/null || missing="$$missing $$c"; done; \
	if [ -n "$$missing" ]; then \
	  command -v apt-get >/dev/null || { \
	    echo "make test needs$$missing (Debian's packages; install them, then run it again)" >&2; \
	    exit 1; }; \
	  sudo=""; [ "$$(id -u)" = 0 ] || sudo="sudo"; \
	  echo "$$sudo apt-get install -y$$missing"; \
	  $$sudo apt-get update && \
	  $$sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y $$missing; \
	fi

lab: $(STAMP)
	$(BIN)/jupyter lab notebooks/ $(if $(filter 0,$(shell id -u)),--allow-root)

book: $(EXECUTED) $(NPM)/node_modules/mathjax/es5/tex-chtml-full.js | $(STAMP)
	$(BIN)/python tools/build_book.py --executed $(OUT) --out $(OUT)/book \
	  --mathjax $(NPM)/node_modules/mathjax $(NOTEBOOKS)

$(NPM)/node_modules/mathjax/es5/tex-chtml-full.js:
	mkdir -p $(NPM)
	$(NPM_INSTALL) $(NPM) mathjax@3

# The decks load reveal.js, require.js, jQuery and MathJax 2 from the npm
# packages installed next to them, so they show with no network at all.
slides: $(EXECUTED) $(OUT)/slides/node_modules/reveal.js | $(STAMP)
	$(BIN)/python tools/build_slides.py --out $(OUT)/slides --executed $(OUT) \
	  --assets node_modules $(NOTEBOOKS)

slides-offline: slides

# the same decks loading their assets from CDNs (a few kB each, needs the network)
slides-cdn: $(EXECUTED) | $(STAMP)
	$(BIN)/python tools/build_slides.py --out $(OUT)/slides-cdn --executed $(OUT) $(NOTEBOOKS)

$(OUT)/slides/node_modules/reveal.js:
	mkdir -p $(OUT)/slides
	$(NPM_INSTALL) $(OUT)/slides reveal.js@4.0.2 requirejs@2.3 jquery@3.7 mathjax@2.7

browser-check: book slides
	$(BIN)/python tools/browser_check.py --book $(OUT)/book --slides $(OUT)/slides \
	  --shots $(OUT)/screenshots

student: $(STAMP)
	$(BIN)/python tools/student_version.py --out $(OUT)/student $(NOTEBOOKS)

figures: $(STAMP)
	$(BIN)/python tools/make_figures.py --out img

clean:
	rm -rf $(OUT) .pytest_cache .hypothesis
	find . -name __pycache__ -not -path "./$(VENV)/*" -prune -exec rm -rf {} +

distclean: clean
	rm -rf $(VENV)
