"""A small tuning run for tests/test_resume.py to kill and resume.

    python tests/resume_job.py JOURNAL CHECKPOINT_DIR LEDGER MAX_TRIALS [HANG_AT]

The objective sleeps a little per epoch, keeps a checkpoint of the epoch it
reached, and appends one line per call to LEDGER (pid, config, r0), so the
test can tell which trials ran in which process and where they started. With
HANG_AT, the HANG_AT-th call hangs in its second epoch (after writing "hang"
to LEDGER), waiting to be killed.
"""

import json
import os
import sys
import time

import d2lhpo as hpo

SPACE = {"x": hpo.uniform(0.0, 1.0)}
EPOCHS = 3


def objective(config, r0, r1, checkpoint, ledger, hang_at=None):
    with open(ledger, "a") as f:
        f.write(json.dumps({"pid": os.getpid(), "x": config["x"], "r0": r0}) + "\n")
    with open(ledger) as f:
        calls = len(f.readlines())
    if r0 > 0:  # resumed: the checkpoint must say where the trial got to
        with open(checkpoint) as f:
            assert json.load(f)["epoch"] == r0
    for epoch in range(int(r0) + 1, int(r1) + 1):
        if epoch == 2 and calls == hang_at:
            with open(ledger, "a") as f:
                f.write('"hang"\n')
            time.sleep(60)
        time.sleep(0.02)
        with open(checkpoint, "w") as f:
            json.dump({"epoch": epoch}, f)
        yield {"resource": epoch, "loss": (config["x"] - 0.3) ** 2 + 1 / epoch}


def main(journal, checkpoint_dir, ledger, max_trials, hang_at=None):
    scheduler = hpo.FIFOScheduler(hpo.RandomSearcher(SPACE, seed=0), metric="loss",
                                  max_resource=EPOCHS)

    def run(config, r0, r1, checkpoint):
        return objective(config, r0, r1, checkpoint, ledger, hang_at)

    tuner = hpo.Tuner(run, scheduler, seed=0, journal=journal, checkpoint_dir=checkpoint_dir,
                      resume=True, progress=False)
    return tuner.run(max_trials=max_trials)


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2], sys.argv[3], *map(int, sys.argv[4:]))
