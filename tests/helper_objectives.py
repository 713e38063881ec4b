"""Objectives for tests that run them in worker processes: defined at module level,
so that they pickle (a test module's own functions would pickle too, but importing a
test module in a worker drags pytest in)."""

import os
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
