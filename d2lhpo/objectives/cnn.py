"""The book's running example: a LeNet-style CNN, trained with ``d2l``, one epoch per step.

The network is d2l's LeNet with two width knobs (``channels`` for the
convolutions, ``hidden`` for the dense layer), ReLU instead of sigmoid (it
trains in a few epochs with SGD), dropout, and padded convolutions so the same
code runs on 8x8 digits and 28x28 FashionMNIST. ``d2l.Classifier`` supplies
the loss and accuracy, ``d2l.Trainer`` the epoch loop; we only drive that loop
ourselves so that each epoch can be reported to a scheduler, and turn off
d2l's live plot (a tuning worker has no screen).

Randomness is explicit: weight initialization and each epoch (shuffling,
dropout) run under their own seed derived from the trial's ``seed`` and the
epoch number, inside ``torch.random.fork_rng`` so the global RNG is left as it
was. So the same seed and config give the same learning curve, whether the
trial runs straight through or is paused and resumed from its checkpoint.
"""

from __future__ import annotations

import contextlib
import os
import time
from pathlib import Path

import d2l.torch as d2l
import numpy as np
import torch
from torch import nn

from .base import Objective
from .cnn_space import HYPERPARAMETERS, cnn_space
from .data import load_data


class LeNet(d2l.Classifier):
    """LeNet with ReLU, dropout, padded convolutions and adjustable widths.

    Args:
        channels: output channels of the first convolution (the second has twice as many).
        hidden: units of the hidden dense layer.
        dropout: drop probability before each dense layer.
        learning_rate, momentum, weight_decay: for ``torch.optim.SGD``.
        num_classes: outputs.

    Example:
        >>> model = LeNet(channels=6, hidden=84)
        >>> model(torch.zeros(2, 1, 28, 28)).shape
        torch.Size([2, 10])
    """

    def __init__(self, channels=6, hidden=84, dropout=0.0, learning_rate=0.1,
                 momentum=0.0, weight_decay=0.0, num_classes=10):
        super().__init__()
        self.learning_rate, self.momentum = learning_rate, momentum
        self.weight_decay = weight_decay
        self.net = nn.Sequential(
            nn.LazyConv2d(channels, kernel_size=5, padding=2), nn.ReLU(),
            nn.AvgPool2d(kernel_size=2, stride=2),
            nn.LazyConv2d(2 * channels, kernel_size=5, padding=2), nn.ReLU(),
            nn.AvgPool2d(kernel_size=2, stride=2),
            nn.Flatten(), nn.Dropout(dropout),
            nn.LazyLinear(hidden), nn.ReLU(), nn.Dropout(dropout),
            nn.LazyLinear(num_classes))

    def configure_optimizers(self):
        return torch.optim.SGD(self.parameters(), lr=self.learning_rate,
                               momentum=self.momentum, weight_decay=self.weight_decay)

    def plot(self, key, value, train):
        """No live plot: trials run in workers without a display, and we report instead."""

    def validation_step(self, batch):
        # Count mistakes and examples, so the error is weighted by examples
        # (a mean of batch means would overweight a short last batch).
        correct = self.accuracy(self(*batch[:-1]), batch[-1], averaged=False)
        self.val_mistakes += int(correct.numel() - correct.sum().item())
        self.val_examples += int(correct.numel())


class EpochTrainer(d2l.Trainer):
    """A ``d2l.Trainer`` that runs one epoch at a time and returns the validation error.

    Args:
        max_epochs: as in ``d2l.Trainer``.

    Example:
        >>> trainer = EpochTrainer(max_epochs=3)
        >>> trainer.prepare(model, data)
        >>> errors = [trainer.run_epoch(epoch) for epoch in range(3)]
    """

    def __init__(self, max_epochs):
        super().__init__(max_epochs=max_epochs)

    def prepare(self, model, data):
        """What ``d2l.Trainer.fit`` does before its epoch loop."""
        self.prepare_data(data)
        self.prepare_model(model)
        self.optim = model.configure_optimizers()
        self.train_batch_idx = self.val_batch_idx = 0

    def prepare_batch(self, batch):
        X, y = batch
        if X.dtype == torch.uint8:  # FashionMNIST is kept as bytes
            X = X.float() / 255.0
        return X, y

    def run_epoch(self, epoch: int) -> float:
        """Train one epoch (d2l's ``fit_epoch``); the validation error, weighted by examples."""
        self.epoch = epoch
        self.model.val_mistakes = self.model.val_examples = 0
        self.fit_epoch()
        return self.model.val_mistakes / self.model.val_examples


def _torch_seed(seed: int, step: int) -> int:
    return int(np.random.SeedSequence([seed, step]).generate_state(1)[0])


@contextlib.contextmanager
def _seeded(seed: int, step: int):
    """Run a block under its own torch seed, leaving the global RNG as it was."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(_torch_seed(seed, step))
        yield


def _as_epoch(name, value, max_epochs):
    if isinstance(value, (int, np.integer, float)) and float(value).is_integer() \
            and 0 <= value <= max_epochs:
        return int(value)
    raise ValueError(f"{name} must be a whole number of epochs in [0, {max_epochs}], "
                     f"got {value!r}")


class CNNObjective(Objective):
    """Train the LeNet-style CNN epoch by epoch and report its validation error.

    Each step is one epoch and reports ``{"resource": epoch, "error": ...,
    "n_params": ..., "cost": wall seconds of the epoch}``, plus
    ``"params_excess" = n_params - max_params`` (a constraint: <= 0 is
    feasible) when ``max_params`` is set, and ``"latency"`` (milliseconds
    per example at inference) when ``latency=True``. The error is measured on
    a validation split of the training data; the test split is never used.

    Args:
        dataset: ``"digits"`` (offline, seconds per run) or ``"fashion_mnist"``;
            ``None`` reads ``$D2LHPO_DATASET`` (default ``"digits"``).
        max_epochs: the maximum resource.
        max_params: a budget on the number of weights, reported as a constraint.
        data_dir: where FashionMNIST lives (see :func:`~d2lhpo.objectives.data.load_data`).
        threads: torch threads per trial (1 lets parallel workers share few cores).
        download: download FashionMNIST if missing (needs a network).
        latency: also report inference latency.

    Example:
        >>> cnn = CNNObjective(max_epochs=3)
        >>> config = hpo.Space(cnn.space).sample(np.random.default_rng(0))
        >>> [r["error"] for r in cnn(config, r0=0, r1=3, seed=0)]
    """

    metric = "error"
    mode = "min"

    def __init__(self, dataset=None, max_epochs=27, max_params=None, data_dir=None, threads=1,
                 download=False, latency=False):
        self.dataset = dataset or os.environ.get("D2LHPO_DATASET", "digits")
        if self.dataset not in ("digits", "fashion_mnist"):
            raise ValueError(f"dataset must be 'digits' or 'fashion_mnist', got {self.dataset!r}")
        if not (isinstance(max_epochs, (int, np.integer)) and max_epochs >= 1):
            raise ValueError(f"max_epochs must be a positive integer, got {max_epochs!r}")
        if max_params is not None and not max_params > 0:
            raise ValueError(f"max_params must be positive, got {max_params!r}")
        if not (isinstance(threads, (int, np.integer)) and threads >= 1):
            raise ValueError(f"threads must be a positive integer, got {threads!r}")
        self.max_epochs = self.max_resource = int(max_epochs)
        self.max_params, self.data_dir, self.threads = max_params, data_dir, int(threads)
        self.download, self.latency = download, latency
        self.space = cnn_space()

    def __repr__(self):
        return f"CNNObjective(dataset={self.dataset!r}, max_epochs={self.max_epochs})"

    def build(self, config, seed=0):
        """The initialized model, its trainer and data for ``config`` (before any epoch)."""
        missing = [k for k in HYPERPARAMETERS if k not in config]
        if missing:
            raise ValueError(f"hyperparameter {missing[0]!r} is missing from {dict(config)!r}")
        data = load_data(self.dataset, int(config["batch_size"]), self.data_dir, self.download)
        model = LeNet(int(config["channels"]), int(config["hidden"]), float(config["dropout"]),
                      float(config["learning_rate"]), float(config["momentum"]),
                      float(config["weight_decay"]), num_classes=int(data.y.max()) + 1)
        with _seeded(seed, 0):
            model.apply_init([torch.zeros(1, *data.X.shape[1:])], d2l.init_cnn)
        trainer = EpochTrainer(self.max_epochs)
        trainer.prepare(model, data)
        return model, trainer, data

    def __call__(self, config, r0=0, r1=None, seed=None, checkpoint=None):
        r0 = _as_epoch("r0", r0, self.max_epochs)
        r1 = _as_epoch("r1", self.max_epochs if r1 is None else r1, self.max_epochs)
        if seed is None:
            seed = int(np.random.SeedSequence().generate_state(1)[0])
        torch.set_num_threads(self.threads)
        model, trainer, data = self.build(config, seed)
        if r0 > 0:
            _load(checkpoint, model, trainer.optim, r0)
        extra = {"n_params": sum(p.numel() for p in model.parameters())}
        if self.max_params is not None:
            extra["params_excess"] = extra["n_params"] - self.max_params
        if self.latency:
            extra["latency"] = _latency_ms(model, trainer, data)
        for epoch in range(r0 + 1, r1 + 1):
            start = time.perf_counter()
            with _seeded(seed, epoch):
                error = trainer.run_epoch(epoch - 1)
            cost = time.perf_counter() - start
            if checkpoint is not None:
                _save(checkpoint, model, trainer.optim, epoch)
            yield {"resource": epoch, "error": error, **extra, "cost": cost}


def _save(path, model, optim, epoch):
    """Save epoch ``epoch`` at ``path``, and keep the epoch before as ``path.prev``.

    The previous epoch is kept because a run killed between saving epoch k + 1
    and journaling its result resumes from epoch k. A crash mid-write leaves
    the old checkpoint (the new one is written aside, then renamed).
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    torch.save({"epoch": epoch, "model": model.state_dict(), "optim": optim.state_dict()}, tmp)
    if path.exists():
        os.replace(path, path.with_name(path.name + ".prev"))
    os.replace(tmp, path)


def _load(path, model, optim, r0):
    if path is None or not Path(path).exists():
        raise ValueError(f"r0={r0} needs the checkpoint saved at epoch {r0}, "
                         f"but checkpoint={path!r} does not exist")
    state = torch.load(path, weights_only=True)
    previous = Path(path).with_name(Path(path).name + ".prev")
    if state["epoch"] == r0 + 1 and previous.exists():  # see _save
        state = torch.load(previous, weights_only=True)
    if state["epoch"] != r0:
        raise ValueError(f"checkpoint={str(path)!r} holds epoch {state['epoch']}, "
                         f"cannot resume from r0={r0}")
    model.load_state_dict(state["model"])
    optim.load_state_dict(state["optim"])
    for group in optim.param_groups:  # the config's, not the checkpoint's (PBT changes them)
        group.update(lr=model.learning_rate, momentum=model.momentum,
                     weight_decay=model.weight_decay)


def _latency_ms(model, trainer, data, repeats=3):
    X = trainer.prepare_batch((data.X[data.val_idx[:256]], None))[0]
    model.eval()
    best = float("inf")
    with torch.no_grad():
        for _ in range(repeats):
            start = time.perf_counter()
            model(X)
            best = min(best, time.perf_counter() - start)
    return 1000.0 * best / len(X)
