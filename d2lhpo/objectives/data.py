"""Image datasets for the CNN objective, as ``d2l.DataModule`` subclasses.

Two datasets, one interface (train and validation loaders over tensors, and a
test split that tuning never looks at):

* ``"digits"`` (the offline default): scikit-learn's 1,797 real 8x8
  handwritten digits (Alpaydin & Kaynak, UCI), shipped inside scikit-learn, so
  nothing is downloaded. A LeNet-style network trains 27 epochs on it in
  seconds on one CPU core, which is what lets chapter 1 train dozens of
  networks live and lets us record hundreds of learning curves for replay.
  The split is stratified, with a fixed seed: 60% train, 20% validation,
  20% test.
* ``"fashion_mnist"``: the book's dataset, read with torchvision's own
  ``FashionMNIST`` loader (downloaded only when ``download=True``). The
  validation set is 10,000 images held out of its 60,000 training images
  (fixed seed); its test set is loaded but never used for tuning.
"""

from __future__ import annotations

import functools
import os
from pathlib import Path

import d2l.torch as d2l
import numpy as np
import torch
from sklearn.model_selection import train_test_split

DATASETS = ("digits", "fashion_mnist")
SPLIT_SEED = 0  # fixed: every trial, every run and the recorded table see the same split


def default_data_dir() -> Path:
    """Where downloaded datasets live: ``$D2LHPO_DATA_DIR`` or ``~/.cache/d2lhpo``."""
    return Path(os.environ.get("D2LHPO_DATA_DIR", Path.home() / ".cache" / "d2lhpo"))


class ImageData(d2l.DataModule):
    """Images and labels held as tensors, split by index into train/validation/test.

    Images are stored as d2l expects them, ``(n, 1, height, width)``, either as
    floats in [0, 1] or as raw bytes (then scaled per batch by the trainer, so
    60,000 FashionMNIST images stay 47 MB instead of 188 MB).

    Args:
        X: images, ``(n, 1, h, w)``.
        y: integer labels, ``(n,)``.
        train_idx, val_idx, test_idx: disjoint index arrays into ``X``.
        batch_size: examples per minibatch.
        name: for messages.

    Example:
        >>> data = load_data("digits", batch_size=64)
        >>> X, y = next(iter(data.train_dataloader()))
        >>> X.shape
        torch.Size([64, 1, 8, 8])
    """

    def __init__(self, X, y, train_idx, val_idx, test_idx, batch_size=64, name=""):
        super().__init__(root=str(default_data_dir()), num_workers=0)
        if not (isinstance(batch_size, (int, np.integer)) and batch_size >= 1):
            raise ValueError(f"batch_size must be a positive integer, got {batch_size!r}")
        self.X, self.y, self.name = X, y, name
        self.train_idx, self.val_idx, self.test_idx = (
            torch.as_tensor(np.asarray(i), dtype=torch.long)
            for i in (train_idx, val_idx, test_idx))
        self.batch_size = int(batch_size)

    def get_tensorloader(self, tensors, train, indices=slice(0, None)):
        """d2l's loader, but each minibatch is gathered by one indexing operation
        instead of one per example: the same batches in the same order, faster."""
        dataset = torch.utils.data.TensorDataset(*(a[indices] for a in tensors))
        order = (torch.utils.data.RandomSampler if train else torch.utils.data.SequentialSampler)
        batches = torch.utils.data.BatchSampler(order(dataset), self.batch_size, drop_last=False)
        return torch.utils.data.DataLoader(dataset, sampler=batches, batch_size=None)

    def get_dataloader(self, train):
        return self.get_tensorloader((self.X, self.y), train,
                                     self.train_idx if train else self.val_idx)

    def test_dataloader(self):
        """The held-out test split: for a final report, never for tuning."""
        return self.get_tensorloader((self.X, self.y), False, self.test_idx)

    def with_batch_size(self, batch_size: int) -> "ImageData":
        """The same tensors and splits, another batch size (no copy)."""
        return ImageData(self.X, self.y, self.train_idx, self.val_idx, self.test_idx,
                         batch_size, self.name)


@functools.lru_cache(maxsize=4)
def _digits():
    from sklearn.datasets import load_digits
    X, y = load_digits(return_X_y=True)
    idx = np.arange(len(y))
    rest, test = train_test_split(idx, test_size=0.2, stratify=y, random_state=SPLIT_SEED)
    train, val = train_test_split(rest, test_size=0.25, stratify=y[rest],
                                  random_state=SPLIT_SEED)
    X = torch.tensor(X, dtype=torch.float32).reshape(-1, 1, 8, 8) / 16.0
    return ImageData(X, torch.tensor(y, dtype=torch.long), train, val, test, name="digits")


@functools.lru_cache(maxsize=4)
def _fashion_mnist(root: str, download: bool):
    import torchvision
    try:
        train = torchvision.datasets.FashionMNIST(root, train=True, download=download)
        test = torchvision.datasets.FashionMNIST(root, train=False, download=download)
    except RuntimeError as err:
        raise ValueError(f"FashionMNIST not found under data_dir={root!r}; pass "
                         f"download=True (needs a network) or use dataset='digits'") from err
    n_train, n_test = len(train.targets), len(test.targets)
    idx = np.arange(n_train)
    fit, val = train_test_split(idx, test_size=min(10_000, n_train // 6),
                                stratify=train.targets.numpy(), random_state=SPLIT_SEED)
    X = torch.cat([train.data, test.data]).unsqueeze(1)  # uint8, scaled per batch
    y = torch.cat([train.targets, test.targets])
    return ImageData(X, y, fit, val, np.arange(n_train, n_train + n_test),
                     name="fashion_mnist")


def load_data(dataset: str | None = None, batch_size: int = 64, data_dir=None,
              download: bool = False) -> ImageData:
    """The train/validation/test splits of ``dataset`` as an :class:`ImageData`.

    Args:
        dataset: ``"digits"`` or ``"fashion_mnist"``; ``None`` reads the
            environment variable ``D2LHPO_DATASET`` (default ``"digits"``).
        batch_size: examples per minibatch.
        data_dir: where FashionMNIST lives (default :func:`default_data_dir`).
        download: fetch FashionMNIST if it is missing (needs a network).
    """
    dataset = dataset or os.environ.get("D2LHPO_DATASET", "digits")
    if dataset not in DATASETS:
        raise ValueError(f"dataset must be one of {DATASETS}, got {dataset!r}")
    if dataset == "digits":
        data = _digits()
    else:
        data = _fashion_mnist(str(data_dir or default_data_dir()), bool(download))
    return data.with_batch_size(batch_size)
