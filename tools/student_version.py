"""Write student versions of the notebooks: the same cells minus the solutions.

A solution is any cell tagged ``solution`` (see the notebook conventions in the
README); the exercises themselves stay. Cells tagged ``check`` (the asserts
that keep the prose honest) are dropped too. Outputs are cleared.

Usage:
    python tools/student_version.py notebooks/*.ipynb [--out _output/student]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import nbformat


def student_version(nb):
    """Return a copy of ``nb`` without solution and check cells and without outputs."""
    nb = nbformat.from_dict(nb)  # a deep copy: the caller's notebook is untouched
    nb.cells = [c for c in nb.cells
                if not {"solution", "check"} & set(c.metadata.get("tags", []))]
    for cell in nb.cells:
        if cell.cell_type == "code":
            cell.outputs, cell.execution_count = [], None
    return nb


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("notebooks", nargs="+", type=Path)
    parser.add_argument("--out", type=Path, default=Path("_output/student"))
    args = parser.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    for path in args.notebooks:
        nb = nbformat.read(path, as_version=4)
        student = student_version(nb)
        nbformat.write(student, args.out / path.name)
        print(f"{args.out / path.name}: dropped {len(nb.cells) - len(student.cells)} "
              f"solution and check cell(s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
