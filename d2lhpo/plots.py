"""Thin renderers over the data views of :mod:`d2lhpo.results`.

Every function takes data (DataFrames from ``Results``) and an optional
matplotlib ``Axes``, draws, and returns the ``Axes``; tests check the data.
matplotlib is imported when a plot is drawn, not with the package: tuning
needs no plotting stack.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd

from .results import Results, pareto_mask


def _pyplot():
    """matplotlib.pyplot, imported on first use."""
    try:
        import matplotlib.pyplot as plt
    except ImportError as err:
        raise ImportError("d2lhpo's plots need matplotlib (pip install matplotlib); "
                          "tuning without plots does not") from err
    return plt


def set_style(svg: bool | None = None) -> None:
    """The series' figure style, set once (rcParams only; SVG inline in notebooks).

    ``svg``: inline figures as SVG (sharp at any zoom) or, if False, as PNG
    (smaller notebooks, and viewable by any image tool). None reads the
    environment variable ``D2LHPO_FIGURE_FORMAT`` (``svg``, the default, or ``png``).
    """
    if svg is None:
        fmt = os.environ.get("D2LHPO_FIGURE_FORMAT", "svg").lower()
        if fmt not in ("svg", "png"):
            raise ValueError(f"D2LHPO_FIGURE_FORMAT must be 'svg' or 'png', got {fmt!r}")
        svg = fmt == "svg"
    _pyplot().rcParams.update({
        "figure.figsize": (5.5, 3.5), "figure.dpi": 100, "savefig.dpi": 150,
        "axes.spines.top": False, "axes.spines.right": False, "axes.grid": True,
        "grid.alpha": 0.3, "axes.titlesize": 11, "axes.labelsize": 10,
        "legend.fontsize": 9, "legend.frameon": False, "font.size": 10,
        "lines.linewidth": 1.8,
    })
    try:
        from matplotlib_inline.backend_inline import set_matplotlib_formats
        set_matplotlib_formats("svg" if svg else "png")
    except Exception:  # not in IPython: nothing to set
        pass
    _attach_alt_text()


def _ax(ax):
    return ax if ax is not None else _pyplot().subplots()[1]


def plot_anytime(curves: Mapping[str, pd.DataFrame] | pd.DataFrame, ax=None, x: str = "time",
                 log_y: bool = False, ylabel: str = "best value so far",
                 xlabel: str | None = None):
    """Anytime curves: median and quantile band per method (from ``aggregate_anytime``),
    or plain best-so-far steps (from ``Results.anytime``)."""
    ax = _ax(ax)
    if isinstance(curves, pd.DataFrame):
        curves = {"": curves}
    for label, curve in curves.items():
        if "median" in curve:
            line, = ax.plot(curve[x], curve["median"], label=label or None, drawstyle="steps-post")
            ax.fill_between(curve[x], curve["lower"], curve["upper"], step="post",
                            color=line.get_color(), alpha=0.2, linewidth=0)
        else:
            ax.plot(curve[x], curve["best"], label=label or None, drawstyle="steps-post",
                    marker=".", markersize=4)
    ax.set_xlabel(xlabel or {"time": "time (s)", "n": "evaluations"}.get(x, x))
    ax.set_ylabel(ylabel)
    if log_y:
        ax.set_yscale("log")
    if any(curves):
        ax.legend()
    return ax


def plot_pareto(points: pd.DataFrame, metrics: Sequence[str], modes: Sequence[str] | None = None,
                ax=None, label: str | None = None, color=None):
    """All points of two metrics, dominated ones greyed, the front as a staircase."""
    ax = _ax(ax)
    modes = list(modes or ["min", "min"])
    values = points[list(metrics)].to_numpy(dtype=float)
    signs = np.array([1.0 if m == "min" else -1.0 for m in modes])
    mask = pareto_mask(values * signs)
    ax.scatter(values[~mask, 0], values[~mask, 1], s=12, color="0.75", label="dominated")
    front = values[mask][np.argsort(values[mask, 0])]
    sc = ax.scatter(front[:, 0], front[:, 1], s=22, color=color, zorder=3,
                    label=label or "Pareto front")
    ax.plot(front[:, 0], front[:, 1], drawstyle="steps-post" if modes[1] == "min" else "steps-pre",
            color=sc.get_facecolor()[0], alpha=0.7)
    ax.set_xlabel(metrics[0])
    ax.set_ylabel(metrics[1])
    ax.legend()
    return ax


def plot_learning_curves(results: Results, metric: str | None = None, ax=None,
                         max_trials: int | None = None, rungs: Sequence[float] = ()):
    """One line per trial: the metric against the resource (e.g. epochs)."""
    ax = _ax(ax)
    metric = metric or results.metric
    df = results.df[results.df["status"] != "failed"]
    for i, (trial_id, g) in enumerate(df.groupby("trial_id")):
        if max_trials is not None and i >= max_trials:
            break
        g = g.sort_values("resource")
        ax.plot(g["resource"], g[metric], alpha=0.6, linewidth=1)
    for r in rungs:
        ax.axvline(r, color="0.5", linestyle=":", linewidth=1)
    ax.set_xlabel("resource")
    ax.set_ylabel(metric)
    return ax


def timeline(results: Results) -> pd.DataFrame:
    """Which worker ran which trial when: one row per step (start, end, worker, trial, status)."""
    df = results.df
    if df.empty:
        return pd.DataFrame(columns=["worker", "trial_id", "start", "end", "status"])
    out = pd.DataFrame({"worker": df["worker"], "trial_id": df["trial_id"],
                        "start": df["time"] - df["duration"], "end": df["time"],
                        "status": df["status"]})
    return out.sort_values(["worker", "start"]).reset_index(drop=True)


def plot_timeline(results: Results, ax=None, max_time: float | None = None):
    """Worker timelines: a bar per step, coloured by trial; white gaps are idle workers.
    With ``max_time``, only the steps that start before it are drawn."""
    ax = _ax(ax)
    segments = timeline(results)
    ax.set_yticks(sorted(segments["worker"].unique()))
    if max_time is not None:
        segments = segments[segments["start"] < max_time]
    if len(segments):  # one barh call for all steps: one call per step takes seconds
        colors = _pyplot().get_cmap("tab20")(segments["trial_id"].to_numpy(dtype=int) % 20)
        ax.barh(segments["worker"], segments["end"] - segments["start"],
                left=segments["start"], height=0.8, color=colors, edgecolor="white",
                linewidth=0.3)
    ax.set_ylabel("worker")
    ax.set_xlabel("time (s)")
    ax.invert_yaxis()
    if max_time is not None:
        ax.set_xlim(0, max_time)
    return ax


def alt_text(fig) -> str:
    """A one-line description of a figure for readers who cannot see it.

    Made from what the figure says about itself: its title, and per panel the
    title, what the axes show and the legend entries. ``set_style()`` attaches
    it to every figure a notebook displays (as the output's ``alt`` metadata),
    so that the book's images carry it.

    Args:
        fig: a matplotlib ``Figure`` (an ``Axes`` stands for its figure).

    Example:
        >>> fig, ax = plt.subplots()
        >>> _ = ax.set(title="Branin", xlabel="x1", ylabel="x2")
        >>> alt_text(fig)
        'Figure: Branin; x axis: x1, y axis: x2.'
    """
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

    if isinstance(fig, Axes):
        fig = fig.figure
    if not isinstance(fig, Figure):
        raise TypeError(f"alt_text: fig must be a matplotlib Figure or Axes, got {fig!r}")
    suptitle = getattr(fig, "_suptitle", None)
    panels = []
    for ax in fig.get_axes():
        if not ax.get_visible() or not ax.axison and not ax.get_title():
            continue
        parts = []
        if ax.get_title():
            parts.append(ax.get_title())
        axes = [f"{name} axis: {label}" for name, label
                in (("x", ax.get_xlabel()), ("y", ax.get_ylabel())) if label]
        if axes:
            parts.append(", ".join(axes))
        legend = ax.get_legend()
        entries = [t.get_text() for t in legend.get_texts()] if legend else []
        if entries:
            parts.append("legend: " + ", ".join(entries[:8]))
        if parts:
            panels.append("; ".join(parts))
    head = suptitle.get_text() if suptitle is not None and suptitle.get_text() else ""
    head, panels = _plain(head), [_plain(p) for p in panels]
    if len(panels) > 1:
        body = " ".join(f"Panel {i}: {p}." for i, p in enumerate(panels, 1))
        return f"Figure with {len(panels)} panels" + (f": {head}. " if head else ". ") + body
    text = ": ".join(p for p in (head, panels[0] if panels else "") if p)
    return f"Figure: {text}." if text else "Figure without title or axis labels."


_TEX = {r"\ell": "ℓ", r"\pm": "±", r"\rho": "ρ", r"\sigma": "σ", r"\mu": "μ",
        r"\eta": "η", r"\beta": "β", r"\gamma": "γ", r"\lambda": "λ", r"\times": "×",
        r"\leq": "≤", r"\le": "≤", r"\geq": "≥", r"\ge": "≥", r"\approx": "≈"}


def _plain(text: str) -> str:
    """Matplotlib's mathtext (``$\\ell$``) as plain text, for a screen reader."""
    if "$" not in text:
        return text
    for tex, char in _TEX.items():
        text = text.replace(tex, char)
    return text.replace("$", "").replace("\\", "").replace("{", "").replace("}", "")


def _attach_alt_text() -> None:
    """Make IPython's figure formatters return ``alt_text(fig)`` as metadata."""
    try:
        from IPython import get_ipython
        from matplotlib.figure import Figure
    except ImportError:
        return
    shell = get_ipython()
    if shell is None or not hasattr(shell, "display_formatter"):
        return
    for mime in ("image/png", "image/svg+xml"):
        formatter = shell.display_formatter.formatters.get(mime)
        try:
            draw = formatter.lookup_by_type(Figure)
        except (AttributeError, KeyError):
            continue  # this format is not selected for figures
        if getattr(draw, "adds_alt_text", False):
            continue

        def with_alt_text(fig, draw=draw):
            data = draw(fig)
            return None if data is None else (data, {"alt": alt_text(fig)})

        with_alt_text.adds_alt_text = True
        formatter.for_type(Figure, with_alt_text)
