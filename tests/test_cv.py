import numpy as np
import pytest
import torch
from sklearn.model_selection import KFold

from d2lhpo.objectives import (CNNObjective, cross_validate, kfold_splits, train_on,
                               with_label_noise)
from d2lhpo.objectives.data import load_data

SMALL = {"learning_rate": 0.1, "momentum": 0.9, "dropout": 0.1, "batch_size": 256,
         "weight_decay": 1e-4, "channels": 2, "hidden": 8}


def test_kfold_splits_are_scikit_learns_folds_of_the_shuffled_pool():
    data = load_data("digits", batch_size=64)
    pool = np.concatenate([data.train_idx.numpy(), data.val_idx.numpy()])
    shuffled = np.random.default_rng(3).permutation(pool)
    splits = kfold_splits(data, k=4, seed=3)
    for split, (train, val) in zip(splits, KFold(4).split(shuffled)):
        assert np.array_equal(split.val_idx.numpy(), shuffled[val])
        assert np.array_equal(np.sort(split.train_idx.numpy()), np.sort(shuffled[train]))
        assert torch.equal(split.test_idx, data.test_idx)  # never pooled
        assert split.batch_size == 64
    # every pooled image is validated on exactly once
    assert np.array_equal(np.sort(np.concatenate([s.val_idx.numpy() for s in splits])),
                          np.sort(pool))


@pytest.mark.parametrize("k", [1, 0, 2.5, 10**6])
def test_kfold_splits_reject_bad_k(k):
    with pytest.raises(ValueError, match="k must be"):
        kfold_splits(load_data("digits"), k=k)


def test_train_on_the_objectives_own_split_repeats_the_objective():
    cnn = CNNObjective(max_epochs=2)
    data = load_data("digits", batch_size=SMALL["batch_size"])
    ours = list(train_on(cnn, SMALL, data, seed=7, train_metrics=True))
    theirs = list(cnn(SMALL, r0=0, r1=2, seed=7))
    assert [r["error"] for r in ours] == [r["error"] for r in theirs]
    assert [r["n_params"] for r in ours] == [r["n_params"] for r in theirs]
    assert all(0 <= r["train_error"] <= 1 and r["train_loss"] > 0 for r in ours)


def test_train_on_a_smaller_split_reports_its_training_error():
    cnn = CNNObjective(max_epochs=2)
    data = load_data("digits")
    few = type(data)(data.X, data.y, data.train_idx[:100], data.val_idx, data.test_idx)
    report = list(train_on(cnn, SMALL, few, epochs=1, train_metrics=True))[-1]
    # the training error is a fraction of 100 images
    assert abs(report["train_error"] * 100 - round(report["train_error"] * 100)) < 1e-4
    with pytest.raises(ValueError, match="epochs must be"):
        next(train_on(cnn, SMALL, few, epochs=3))
    with pytest.raises(TypeError, match="split must be"):
        next(train_on(cnn, SMALL, "digits"))


def test_cross_validate_runs_one_training_per_fold():
    cnn = CNNObjective(max_epochs=1)
    cv = cross_validate(cnn, SMALL, k=3, seed=0)
    data = load_data("digits")
    n_pool = len(data.train_idx) + len(data.val_idx)
    assert cv["n_train"] == [len(t) for t, _ in KFold(3).split(np.arange(n_pool))]
    assert len(cv["errors"]) == 3 and cv["error"] == pytest.approx(np.mean(cv["errors"]))
    assert cv["cost"] > 0
    # fold 1 is trained with seed 1, as a direct train_on call
    split = kfold_splits(data, 3, seed=0)[1]
    assert list(train_on(cnn, SMALL, split, seed=1))[-1]["error"] == cv["errors"][1]


def test_with_label_noise_changes_only_training_labels():
    data = load_data("digits")
    noisy = with_label_noise(data, 0.2, seed=0)
    wrong = (noisy.y != data.y).numpy()
    train = np.zeros(len(data.y), bool)
    train[data.train_idx.numpy()] = True
    assert not wrong[~train].any()          # validation and test labels stay right
    n = train.sum()                          # binomial(n, 0.2): within 4 sd
    assert abs(wrong[train].sum() - 0.2 * n) < 4 * np.sqrt(n * 0.2 * 0.8)
    assert set(noisy.y.unique().tolist()) <= set(range(10))
    assert torch.equal(with_label_noise(data, 0.2, seed=0).y, noisy.y)
    assert torch.equal(with_label_noise(data, 0.0).y, data.y)
    with pytest.raises(ValueError, match="fraction must be"):
        with_label_noise(data, 1.5)
