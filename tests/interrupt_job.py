"""A tuning run that tests/test_interrupts.py interrupts (Ctrl-C) or kills (kill -9).

    python tests/interrupt_job.py BACKEND N_WORKERS DIR JOURNAL

Trials of 300 steps of 0.1 s each (30 s, so that a tuner that waited for its
running trials on Ctrl-C would take many seconds more than one that does not)
run on BACKEND ("process" or "dask"); each step touches ``DIR/<pid>`` first.
When run() returns, the script prints the number of results it returned.
"""

import os
import signal
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))  # helper_objectives

import d2lhpo as hpo  # noqa: E402
from helper_objectives import slow  # noqa: E402


def main(backend, n_workers, folder, journal):
    space = {"x": hpo.uniform(0.0, 1.0), "dir": folder, "sleep": 0.1}
    scheduler = hpo.FIFOScheduler(hpo.RandomSearcher(space, seed=0), metric="loss",
                                  max_resource=300)
    tuner = hpo.Tuner(slow, scheduler, backend=backend, n_workers=n_workers, seed=0,
                      journal=journal, progress=False)
    results = tuner.run(max_trials=100)
    print(len(results), flush=True)


if __name__ == "__main__":
    # A terminal's Ctrl-C reaches a foreground program whose SIGINT is not
    # ignored. A shell that starts the test suite in the background (``make
    # test &``) ignores SIGINT in it, children inherit that, and Python then
    # installs no KeyboardInterrupt handler: every Ctrl-C test timed out in
    # such a run. The job restores the handler a terminal program has.
    signal.signal(signal.SIGINT, signal.default_int_handler)
    main(sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4])
