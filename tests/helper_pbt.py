"""A tiny objective with a checkpoint, for the PBT tests (a module, so that it pickles
for the process and Dask backends)."""

import json
import os

import d2lhpo as hpo

SPACE = {"lr": hpo.loguniform(0.01, 1.0), "width": hpo.choice([1, 2])}


class Climb:
    """``w`` grows by ``lr`` each epoch, from the ``w`` in the checkpoint it resumes
    from; it reports ``error = 1 / (1 + w)`` and ``w`` (so a test sees whose weights a
    trial continued). ``interrupt_at``: raise KeyboardInterrupt at that step (counted
    over all calls in this process)."""

    metric, mode = "error", "min"

    def __init__(self, max_resource=6, interrupt_at=None):
        self.max_resource, self.interrupt_at, self.steps = max_resource, interrupt_at, 0

    def __call__(self, config, r0, r1, checkpoint=None):
        w = 0.0
        if r0 > 0:
            with open(checkpoint) as f:
                state = json.load(f)
            if state["epoch"] != r0:
                raise ValueError(f"checkpoint holds epoch {state['epoch']}, not {r0}")
            w = state["w"]
        for epoch in range(int(r0) + 1, int(r1) + 1):
            self.steps += 1
            if self.steps == self.interrupt_at:
                raise KeyboardInterrupt
            w += config["lr"]
            with open(checkpoint + ".tmp", "w") as f:
                json.dump({"epoch": epoch, "w": w}, f)
            os.replace(checkpoint + ".tmp", checkpoint)
            yield {"resource": epoch, "error": 1.0 / (1.0 + w), "w": w, "cost": 1.0}
