"""A small tuning run that tests/test_resume.py and tests/test_dask_backend.py kill and resume.

    python tests/resume_job.py JOURNAL CHECKPOINT_DIR LEDGER MAX_TRIALS [HANG_AT [SCHEDULER]]

The objective sleeps a little per epoch, keeps a checkpoint of the epoch it
reached, and appends one line per call to LEDGER (pid, config, r0), so the
test can tell which trials ran in which process and where they started. With
HANG_AT, the HANG_AT-th call hangs in its second epoch (after writing "hang"
to LEDGER), waiting to be killed, or for a file LEDGER.release to appear (then
it ends, reporting nothing more). With SCHEDULER (a Dask scheduler's address),
the trials run on that cluster; with ``process``, in a worker process.
"""

import functools
import json
import os
import sys
import time
import uuid

import d2lhpo as hpo

SPACE = {"x": hpo.uniform(0.0, 1.0)}
EPOCHS = 3


def objective(config, r0, r1, checkpoint, ledger, hang_at=None):
    call = uuid.uuid4().hex
    with open(ledger, "a") as f:  # one small append: calls on other workers do not interleave
        f.write(json.dumps({"pid": os.getpid(), "x": config["x"], "r0": r0, "call": call})
                + "\n")
    with open(ledger) as f:  # this call's place among all calls, whatever came after it
        calls = next(i for i, line in enumerate(f, 1) if call in line)
    if r0 > 0:  # resumed: the checkpoint must say where the trial got to
        with open(checkpoint) as f:
            assert json.load(f)["epoch"] == r0
    for epoch in range(int(r0) + 1, int(r1) + 1):
        if epoch == 2 and calls == hang_at:
            with open(ledger, "a") as f:
                f.write('"hang"\n')
            deadline = time.monotonic() + 60
            while time.monotonic() < deadline:
                if os.path.exists(f"{ledger}.release"):  # the run was killed: end here
                    return
                time.sleep(0.01)
        time.sleep(0.02)
        with open(checkpoint, "w") as f:
            json.dump({"epoch": epoch}, f)
        yield {"resource": epoch, "loss": (config["x"] - 0.3) ** 2 + 1 / epoch}


def main(journal, checkpoint_dir, ledger, max_trials, hang_at=None, backend=None):
    scheduler = hpo.FIFOScheduler(hpo.RandomSearcher(SPACE, seed=0), metric="loss",
                                  max_resource=EPOCHS)

    run = functools.partial(objective, ledger=ledger, hang_at=hang_at)  # pickles

    tuner = hpo.Tuner(run, scheduler, backend=backend, seed=0, journal=journal,
                      checkpoint_dir=checkpoint_dir, resume=True, progress=False)
    return tuner.run(max_trials=max_trials)


if __name__ == "__main__":
    args = [*sys.argv[1:4], *map(int, sys.argv[4:6])]
    if len(sys.argv) > 6 and sys.argv[6] == "process":
        args.append("process")
    elif len(sys.argv) > 6:
        import distributed
        args.append(hpo.DaskBackend(distributed.Client(sys.argv[6])))
    main(*args)
