"""Execute notebooks headless and print a table: notebook | seconds | status.

Each notebook runs top to bottom in a fresh kernel started in its own folder,
with a time limit per cell. The executed copy is written to ``OUT/<name>.ipynb``
and every figure in it to ``OUT/figures/<name>/``. A notebook fails if a cell
raises or writes a warning to stderr; the exit status is 1 if any failed.

Quick mode is the environment's business: ``D2LHPO_QUICK=1`` reaches the kernel.

Usage:
    python tools/run_notebooks.py notebooks/*.ipynb [--out _output] [--timeout 900]
        [--status status.json]
"""

from __future__ import annotations

import argparse
import base64
import json
import os
import sys
import time
from pathlib import Path

import nbformat
from nbclient import NotebookClient
from nbclient.exceptions import CellExecutionError, CellTimeoutError, DeadKernelError

FIGURE_TYPES = {"image/png": "png", "image/svg+xml": "svg", "image/jpeg": "jpg"}


def execute(path: Path, timeout: int = 900, env: dict | None = None):
    """Run one notebook in a new kernel; return (notebook, seconds, error or None).

    Args:
        path: the .ipynb file; the kernel starts in its folder.
        timeout: seconds allowed per cell.
        env: the kernel's environment (default: this process's).
    """
    nb = nbformat.read(path, as_version=4)
    client = NotebookClient(nb, timeout=timeout, kernel_name="python3",
                            resources={"metadata": {"path": str(path.parent)}},
                            # the kernel's own log (not cell output) is noise here
                            extra_arguments=["--IPKernelApp.log_level=ERROR"])
    start = time.perf_counter()
    error = None
    try:
        client.execute(env=dict(os.environ if env is None else env))
    except CellExecutionError as e:
        error = f"{e.ename}: {e.evalue}"[:120]
    except (CellTimeoutError, DeadKernelError) as e:
        error = f"{type(e).__name__}: {str(e).splitlines()[0]}"[:120]
    except Exception as e:  # a kernel that died can fail nbclient's own clean-up
        cause = e.__context__ if isinstance(e.__context__, DeadKernelError) else e
        error = f"{type(cause).__name__}: {(str(cause).splitlines() or [''])[0]}"[:120]
    return nb, time.perf_counter() - start, error


def problems(nb) -> list[str]:
    """Error outputs and stderr lines that mention a warning, as 'cell N: ...'."""
    found = []
    for i, cell in enumerate(nb.cells):
        for out in cell.get("outputs", []):
            if out.output_type == "error":
                found.append(f"cell {i}: {out.ename}: {out.evalue}")
            elif (out.output_type == "stream" and out.name == "stderr"
                  and "warning" in out.text.lower()):
                line = next(s for s in out.text.splitlines() if "warning" in s.lower())
                found.append(f"cell {i}: {line.strip()}")
    return found


def save_figures(nb, folder: Path) -> int:
    """Write every image output to ``folder/cellNN_K.ext``; return how many."""
    n = 0
    for i, cell in enumerate(nb.cells):
        for k, out in enumerate(cell.get("outputs", [])):
            for mime, ext in FIGURE_TYPES.items():
                data = out.get("data", {}).get(mime)
                if data is None:
                    continue
                folder.mkdir(parents=True, exist_ok=True)
                target = folder / f"cell{i:02d}_{k}.{ext}"
                if ext == "svg":
                    target.write_text(data if isinstance(data, str) else "".join(data))
                else:
                    target.write_bytes(base64.b64decode(data))
                n += 1
    return n


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("notebooks", nargs="+", type=Path)
    parser.add_argument("--out", type=Path, default=Path("_output"))
    parser.add_argument("--timeout", type=int, default=900, help="seconds per cell")
    parser.add_argument("--status", type=Path, default=None,
                        help="also write a JSON list of {notebook, seconds, error} here")
    args = parser.parse_args(argv)

    mode = "quick" if os.environ.get("D2LHPO_QUICK", "0") == "1" else "default"
    print(f"Running {len(args.notebooks)} notebook(s) in {mode} mode, "
          f"executed copies in {args.out}/", flush=True)
    rows, failed, statuses = [], 0, []
    for path in args.notebooks:
        print(f"  {path.name} ...", flush=True)
        nb, seconds, error = execute(path, args.timeout)
        args.out.mkdir(parents=True, exist_ok=True)
        nbformat.write(nb, args.out / path.name)
        n_figures = save_figures(nb, args.out / "figures" / path.stem)
        issues = problems(nb) or ([error] if error else [])  # timeouts leave no output
        for issue in issues:
            print(f"    {issue}", file=sys.stderr)
        more = f" (+{len(issues) - 1} more)" if len(issues) > 1 else ""
        status = f"FAILED: {issues[0][:80]}{more}" if issues else f"ok ({n_figures} figures)"
        failed += bool(issues)
        rows.append((path.stem, f"{seconds:.0f}", status))
        statuses.append({"notebook": path.name, "seconds": seconds, "error": error})
        if args.status is not None:  # after every notebook: a reader may be waiting
            args.status.write_text(json.dumps(statuses))

    width = max(len("notebook"), *(len(r[0]) for r in rows))
    print(f"\n| {'notebook':<{width}} | seconds | status")
    print(f"|{'-' * (width + 2)}|---------|-------")
    for name, seconds, status in rows:
        print(f"| {name:<{width}} | {seconds:>7} | {status}")
    print(f"\n{len(rows) - failed} ok, {failed} failed ({mode} mode)")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
