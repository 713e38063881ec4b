"""Shared by the notebook and book tests: every chapter executed once, in default mode.

Default mode is what readers run, with the budgets the text describes and the
``check`` cells that assert its claims; the book and the slides are built from
the same executed copies. Each notebook runs the first time a test asks for it.
"""

import os
import sys
from pathlib import Path

import nbformat
import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tools"))
import run_notebooks  # noqa: E402

NOTEBOOKS = sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))  # not scratch copies
CELL_TIMEOUT = 900  # seconds per cell (a busy CI machine runs them slower)


class Executed:
    """Notebooks executed in default mode, each once: ``run(path)`` returns
    ``(notebook, seconds, error or None)``; ``folder`` holds the executed copies."""

    def __init__(self, folder: Path):
        self.folder = folder
        self._done: dict[Path, tuple] = {}

    def run(self, path: Path):
        if path not in self._done:
            env = {k: v for k, v in os.environ.items() if k != "D2LHPO_QUICK"}
            nb, seconds, error = run_notebooks.execute(path, timeout=CELL_TIMEOUT, env=env)
            nbformat.write(nb, self.folder / path.name)
            self._done[path] = nb, seconds, error
        return self._done[path]


@pytest.fixture(scope="session")
def default_runs(tmp_path_factory) -> Executed:
    return Executed(tmp_path_factory.mktemp("executed_default"))
