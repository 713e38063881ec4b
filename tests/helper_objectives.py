"""Objectives for tests that run them in worker processes: defined at module level,
so that they pickle (a test module's own functions would pickle too, but importing a
test module in a worker drags pytest in)."""

import os
import signal
import sys
import time
from pathlib import Path


def steps(config, r0, r1):
    """One report per step with the worker's pid; before each step, a marker file
    ``<id>_step<r>`` in ``config["dir"]`` (if given) shows that the step started."""
    for r in range(int(r0) + 1, int(r1) + 1):
        if config.get("dir"):
            Path(config["dir"], f"{config['id']}_step{r}").touch()
        if config.get("fail_at") == r:
            raise RuntimeError(f"boom at step {r}")
        time.sleep(config.get("sleep", 0.0))
        yield {"resource": r, "loss": config["x"] / r, "pid": os.getpid()}


def misbehaving(config):
    """A plain objective that behaves as ``config["kind"]`` says: ``"ok"`` (returns x
    after ``config["sleep"]`` seconds), ``"raise"``, ``"exit"`` (``os._exit``), ``"segv"``
    (a segmentation fault), ``"sys.exit"`` or ``"hang"`` (sleeps for ever)."""
    kind = config["kind"]
    if kind == "raise":
        raise ValueError("bad config")
    if kind == "exit":
        os._exit(3)
    if kind == "segv":
        os.kill(os.getpid(), signal.SIGSEGV)
    if kind == "sys.exit":
        sys.exit(2)
    if kind == "hang":
        while True:
            time.sleep(1)
    time.sleep(config.get("sleep", 0.0))
    return config["x"]


def slow(config, r0, r1):
    """Steps of ``config["sleep"]`` seconds; each step's start touches ``<dir>/<pid>``, so
    a test can tell which processes train."""
    for r in range(int(r0) + 1, int(r1) + 1):
        Path(config["dir"], str(os.getpid())).touch()
        time.sleep(config["sleep"])
        yield {"resource": r, "loss": config["x"] / r}
