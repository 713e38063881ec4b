import struct

import matplotlib.pyplot as plt
import numpy as np
import pytest
import torch

import d2lhpo as hpo
from d2lhpo.objectives.cnn import CNNObjective, EpochTrainer, LeNet, cnn_space
from d2lhpo.objectives.data import ImageData, load_data

SMALL = {"learning_rate": 0.1, "momentum": 0.9, "dropout": 0.1, "batch_size": 256,
         "weight_decay": 1e-4, "channels": 2, "hidden": 8}


def run(objective, config=SMALL, r0=0, r1=2, **kwargs):
    return list(objective(config, r0=r0, r1=r1, **kwargs))


def lenet_weights(c, h, side, classes=10):
    """Weights of LeNet counted by hand: two 5x5 convolutions (c and 2c channels,
    each followed by 2x2 pooling), a dense layer of h units and the output layer."""
    flat = 2 * c * (side // 4) ** 2
    return c * (25 + 1) + 2 * c * (25 * c + 1) + h * (flat + 1) + classes * (h + 1)


# --- FashionMNIST through torchvision's own loader, on fake IDX files ---------

def write_idx(path, array):
    """IDX format (LeCun's MNIST files): magic (0, 0, dtype 0x08 = ubyte, ndim),
    big-endian int32 sizes, then the raw bytes."""
    header = struct.pack(">BBBB", 0, 0, 0x08, array.ndim)
    header += struct.pack(f">{array.ndim}I", *array.shape)
    path.write_bytes(header + array.astype(np.uint8).tobytes())


@pytest.fixture
def fake_fashion_mnist(tmp_path):
    raw = tmp_path / "FashionMNIST" / "raw"
    raw.mkdir(parents=True)
    rng = np.random.default_rng(0)
    for prefix, n in (("train", 300), ("t10k", 60)):
        labels = np.arange(n) % 10
        images = rng.integers(0, 256, (n, 28, 28))
        write_idx(raw / f"{prefix}-images-idx3-ubyte", images)
        write_idx(raw / f"{prefix}-labels-idx1-ubyte", labels)
    return tmp_path


def test_fashion_mnist_is_read_by_torchvision_and_trains(fake_fashion_mnist):
    data = load_data("fashion_mnist", batch_size=32, data_dir=fake_fashion_mnist)
    assert data.X.shape == (360, 1, 28, 28) and data.X.dtype == torch.uint8
    assert torch.equal(data.y[:12], torch.tensor([0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 0, 1]))
    # validation comes out of the 300 training images; the 60 test images stay apart
    assert data.val_idx.max() < 300 and len(data.val_idx) == 50
    assert sorted(data.test_idx.tolist()) == list(range(300, 360))
    cnn = CNNObjective("fashion_mnist", max_epochs=2, data_dir=fake_fashion_mnist)
    reports = run(cnn)
    assert [r["resource"] for r in reports] == [1, 2]
    assert all(0 <= r["error"] <= 1 for r in reports)
    assert reports[0]["n_params"] == lenet_weights(2, 8, side=28)


def test_fashion_mnist_missing_names_the_fix(tmp_path):
    with pytest.raises(ValueError, match="download=True"):
        load_data("fashion_mnist", data_dir=tmp_path / "empty")


def test_dataset_from_environment(monkeypatch):
    monkeypatch.setenv("D2LHPO_DATASET", "fashion_mnist")
    assert CNNObjective().dataset == "fashion_mnist"
    monkeypatch.delenv("D2LHPO_DATASET")
    assert CNNObjective().dataset == "digits"
    with pytest.raises(ValueError, match="dataset"):
        CNNObjective(dataset="mnist")


# --- digits -------------------------------------------------------------------

def test_digits_splits_are_disjoint_and_stratified():
    data = load_data("digits")
    train, val, test = (set(i.tolist()) for i in (data.train_idx, data.val_idx, data.test_idx))
    assert not (train & val) and not (train & test) and not (val & test)
    assert len(train | val | test) == 1797
    assert (len(train), len(val), len(test)) == (1077, 360, 360)
    counts = np.bincount(data.y[data.val_idx].numpy(), minlength=10)
    assert counts.min() >= 35  # about 36 of each digit
    assert data.X.shape[1:] == (1, 8, 8) and 0 <= data.X.min() and data.X.max() <= 1


def test_reports_every_epoch():
    cnn = CNNObjective(max_epochs=3)
    reports = run(cnn, r1=3, seed=0)
    assert [r["resource"] for r in reports] == [1, 2, 3]
    for r in reports:
        assert set(r) == {"resource", "error", "n_params", "cost"}
        assert 0 <= r["error"] <= 1 and r["cost"] > 0
        assert r["n_params"] == lenet_weights(2, 8, side=8)
    # 360 validation images: an error is a whole number of mistakes over 360
    assert all(abs(r["error"] * 360 - round(r["error"] * 360)) < 1e-9 for r in reports)


def test_error_is_weighted_by_examples():
    # 5 validation images in batches of 2, 2 and 1: a mean of batch means
    # would weigh the last image twice as much as the others.
    gen = torch.Generator().manual_seed(0)
    X, y = torch.rand(12, 1, 8, 8, generator=gen), torch.arange(12) % 10
    data = ImageData(X, y, range(7), range(7, 12), [], batch_size=2)
    model = LeNet(channels=2, hidden=8, learning_rate=0.01)
    model.apply_init([X[:1]])
    trainer = EpochTrainer(max_epochs=1)
    trainer.prepare(model, data)
    error = trainer.run_epoch(0)
    with torch.no_grad():
        mistakes = (model(X[7:]).argmax(dim=1) != y[7:]).sum().item()
    assert error == mistakes / 5


def test_same_seed_same_curve_and_global_rng_untouched():
    cnn = CNNObjective(max_epochs=2)
    state = torch.random.get_rng_state()
    a = [r["error"] for r in run(cnn, seed=3)]
    assert torch.equal(state, torch.random.get_rng_state())
    b = [r["error"] for r in run(cnn, seed=3)]
    c = [r["error"] for r in run(cnn, seed=4)]
    assert a == b and a != c


def test_resume_from_checkpoint_equals_uninterrupted_run(tmp_path):
    cnn = CNNObjective(max_epochs=3)
    straight = [r["error"] for r in run(cnn, r1=3, seed=1)]
    ckpt = tmp_path / "trial_0"
    first = run(cnn, r1=1, seed=1, checkpoint=str(ckpt))
    rest = run(cnn, r0=1, r1=3, seed=1, checkpoint=str(ckpt))
    assert [r["resource"] for r in rest] == [2, 3]
    assert [r["error"] for r in first + rest] == straight
    with pytest.raises(ValueError, match="epoch 3"):  # it holds epochs 3 and 2 now
        run(cnn, r0=1, r1=3, seed=1, checkpoint=str(ckpt))
    # A run killed after saving epoch 3 but before its result was journaled resumes
    # from epoch 2: the checkpoint before the last one is kept for it.
    assert [r["error"] for r in run(cnn, r0=2, r1=3, seed=1, checkpoint=str(ckpt))] \
        == straight[2:]
    with pytest.raises(ValueError, match="checkpoint"):
        run(cnn, r0=1, r1=2, seed=1)


def test_constraint_latency_and_bad_input():
    cnn = CNNObjective(max_epochs=1, max_params=400, latency=True)
    (r,) = run(cnn, r1=1)
    assert r["params_excess"] == r["n_params"] - 400 > 0
    assert r["latency"] > 0
    with pytest.raises(ValueError, match="r1"):
        run(cnn, r1=2)
    with pytest.raises(ValueError, match="hidden"):
        run(cnn, {k: v for k, v in SMALL.items() if k != "hidden"}, r1=1)
    with pytest.raises(ValueError, match="max_epochs"):
        CNNObjective(max_epochs=0)


def test_space_samples_valid_configs_and_no_plots():
    space = hpo.Space(cnn_space())
    config = space.sample(np.random.default_rng(0))
    assert config["batch_size"] in (32, 64, 128, 256, 512)
    n_figures = len(plt.get_fignums())
    run(CNNObjective(max_epochs=1), dict(config, channels=2, hidden=8, batch_size=512), r1=1)
    assert len(plt.get_fignums()) == n_figures  # d2l's ProgressBoard never drew


def test_runs_under_the_tuner(tmp_path):
    cnn = CNNObjective(max_epochs=2)
    space = dict(SMALL, learning_rate=hpo.loguniform(0.01, 0.5))
    scheduler = hpo.FIFOScheduler(hpo.RandomSearcher(space, seed=0))
    results = hpo.Tuner(cnn, scheduler, seed=0, checkpoint_dir=tmp_path,
                        progress=False).run(max_trials=2)
    df = results.df
    assert len(df) == 4 and set(df["status"]) == {"running", "completed"}
    assert df["error"].between(0, 1).all()
