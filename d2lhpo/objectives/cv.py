"""Training the CNN objective on a split of our choosing: k-fold cross-validation.

:class:`~d2lhpo.objectives.cnn.CNNObjective` always trains on its dataset's
fixed training split and validates on its validation split. Two things in
chapter 1 need other splits: k-fold cross-validation (train on k - 1 folds of
the pooled training and validation images, validate on the last) and the
overfitting demo (train on fewer images, and watch the training loss too).
:func:`train_on` runs the objective's own network, optimizer and seeding on
any :class:`~d2lhpo.objectives.data.ImageData`; :func:`kfold_splits` makes the
k splits, and :func:`cross_validate` puts the two together;
:func:`with_label_noise` makes a training set with wrong labels.
"""

from __future__ import annotations

import time
from collections.abc import Iterator

import numpy as np
import torch

from .cnn import _seeded
from .data import ImageData, load_data


def kfold_splits(data: ImageData, k: int, seed: int = 0) -> list[ImageData]:
    """The ``k`` splits of k-fold cross-validation over ``data``'s training and
    validation images.

    The pooled images are shuffled with ``seed`` and cut into ``k`` folds whose
    sizes differ by at most one (as ``np.array_split`` and scikit-learn's
    ``KFold`` cut them). Split ``i`` validates on fold ``i`` and trains on the
    others; the test split is the same in all of them and never pooled.

    Args:
        data: the images and their holdout split (e.g. ``cnn.build(config)[2]``).
        k: the number of folds, at least 2.
        seed: seeds the shuffle of the pool.
    """
    if not isinstance(data, ImageData):
        raise TypeError(f"data must be an ImageData, got {type(data).__name__}")
    pool = np.concatenate([data.train_idx.numpy(), data.val_idx.numpy()])
    if not (isinstance(k, (int, np.integer)) and 2 <= k <= len(pool)):
        raise ValueError(f"k must be an integer in [2, {len(pool)}], got {k!r}")
    folds = np.array_split(np.random.default_rng(seed).permutation(pool), int(k))
    return [ImageData(data.X, data.y,
                      np.concatenate([f for j, f in enumerate(folds) if j != i]),
                      folds[i], data.test_idx, data.batch_size, data.name)
            for i in range(int(k))]


def with_label_noise(data: ImageData, fraction: float, seed: int = 0) -> ImageData:
    """A copy of ``data`` in which ``fraction`` of the training images carry a wrong label.

    Each training image is relabelled with probability ``fraction``, to one of
    the other classes chosen uniformly; validation and test labels stay
    correct, so the validation error still measures what we care about. Real
    data sets have such mistakes, and a network that memorizes them fits its
    training set better and generalizes worse.

    Args:
        data: the images and their split.
        fraction: the probability that a training label is wrong, in [0, 1].
        seed: seeds which labels are changed and to what.
    """
    if not isinstance(data, ImageData):
        raise TypeError(f"data must be an ImageData, got {type(data).__name__}")
    if not (isinstance(fraction, (int, float, np.floating)) and 0 <= fraction <= 1):
        raise ValueError(f"fraction must be a number in [0, 1], got {fraction!r}")
    rng = np.random.default_rng(seed)
    n_classes = int(data.y.max()) + 1
    train = data.train_idx.numpy()
    flip = train[rng.random(len(train)) < fraction]
    y = data.y.clone()
    shift = torch.as_tensor(rng.integers(1, n_classes, len(flip)), dtype=y.dtype)
    y[flip] = (y[flip] + shift) % n_classes
    return ImageData(data.X, y, data.train_idx, data.val_idx, data.test_idx,
                     data.batch_size, data.name)


@torch.no_grad()
def _loss_and_error(model, trainer, data, idx):
    model.eval()
    X, y = trainer.prepare_batch((data.X[idx], data.y[idx]))
    logits = model(X)
    return (model.loss(logits, y).item(),
            (logits.argmax(dim=1) != y).float().mean().item())


def train_on(objective, config: dict, split: ImageData, epochs: int | None = None,
             seed: int = 0, train_metrics: bool = False) -> Iterator[dict]:
    """Train ``objective``'s network for ``config`` on ``split``; one report per epoch.

    The network, optimizer and per-epoch seeds are the objective's own, so with
    ``split`` equal to the objective's data the reports' errors are those of
    ``objective(config, 0, epochs, seed=seed)``. Each report holds
    ``resource`` (the epoch), ``error`` (on ``split``'s validation images),
    ``n_params`` and ``cost`` (seconds of the epoch), and with
    ``train_metrics=True`` also ``train_loss`` and ``train_error`` on the
    training images, measured after the epoch without dropout (the
    evaluation is not counted in ``cost``).

    Args:
        objective: a :class:`~d2lhpo.objectives.cnn.CNNObjective`.
        config: a configuration of ``objective.space``.
        split: the images to train and validate on (see :func:`kfold_splits`).
        epochs: how many epochs (default ``objective.max_epochs``).
        seed: seeds the initial weights, minibatch order and dropout masks.
        train_metrics: also report the loss and error on the training images.

    Example:
        >>> cnn = CNNObjective(max_epochs=3)
        >>> split = kfold_splits(cnn.build(config)[2], k=3)[0]
        >>> [r["error"] for r in train_on(cnn, config, split, seed=0)]
    """
    epochs = objective.max_epochs if epochs is None else epochs
    if not (isinstance(epochs, (int, np.integer)) and 1 <= epochs <= objective.max_epochs):
        raise ValueError(f"epochs must be an integer in [1, {objective.max_epochs}], "
                         f"got {epochs!r}")
    if not isinstance(split, ImageData):
        raise TypeError(f"split must be an ImageData, got {type(split).__name__}")
    torch.set_num_threads(objective.threads)
    model, trainer, _ = objective.build(config, seed)
    split = split.with_batch_size(int(config["batch_size"]))
    trainer.prepare_data(split)
    n_params = sum(p.numel() for p in model.parameters())
    for epoch in range(1, int(epochs) + 1):
        start = time.perf_counter()
        with _seeded(seed, epoch):
            error = trainer.run_epoch(epoch - 1)
        report = {"resource": epoch, "error": error, "n_params": n_params,
                  "cost": time.perf_counter() - start}
        if train_metrics:
            report["train_loss"], report["train_error"] = _loss_and_error(
                model, trainer, split, split.train_idx)
        yield report


def cross_validate(objective, config: dict, k: int, epochs: int | None = None,
                   seed: int = 0) -> dict:
    """k-fold cross-validation of ``config``: ``k`` training runs, one per fold.

    Returns a dict with ``errors`` (the final validation error of each fold),
    ``error`` (their mean, the cross-validation estimate), ``n_train`` (the
    training images of each run) and ``cost`` (the seconds of all ``k`` runs).
    Fold ``i`` is trained with seed ``seed + i``.

    Args:
        objective: a :class:`~d2lhpo.objectives.cnn.CNNObjective`.
        config: a configuration of ``objective.space``.
        k: the number of folds, at least 2.
        epochs: epochs per run (default ``objective.max_epochs``).
        seed: seeds the folds and the runs.

    Example:
        >>> cv = cross_validate(CNNObjective(max_epochs=3), config, k=3)
        >>> cv["error"], cv["cost"]
    """
    data = load_data(objective.dataset, int(config["batch_size"]), objective.data_dir,
                     objective.download)
    errors, n_train, cost = [], [], 0.0
    for i, split in enumerate(kfold_splits(data, k, seed)):
        reports = list(train_on(objective, config, split, epochs, seed=seed + i))
        errors.append(reports[-1]["error"])
        n_train.append(len(split.train_idx))
        cost += sum(r["cost"] for r in reports)
    return {"errors": errors, "error": float(np.mean(errors)), "n_train": n_train,
            "cost": cost}
