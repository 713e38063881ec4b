"""The search space of the CNN objective, apart from the model so that the
replayed benchmark (:func:`~d2lhpo.objectives.tabular.lenet_digits`) needs no torch."""

from ..spaces import logfinrange, lograndint, loguniform, uniform

HYPERPARAMETERS = ("learning_rate", "momentum", "dropout", "batch_size", "weight_decay",
                   "channels", "hidden")


def cnn_space() -> dict:
    """The search space of :class:`~d2lhpo.objectives.cnn.CNNObjective` (a fresh dict).

    The ranges keep a 27-epoch run on digits to a few CPU seconds, so that
    hundreds of learning curves could be recorded on a laptop.
    """
    return {
        "learning_rate": loguniform(1e-2, 1.0),
        "momentum": uniform(0.0, 0.99),
        "dropout": uniform(0.0, 0.8),
        "batch_size": logfinrange(32, 512, 5, cast_int=True),  # 32, 64, ..., 512
        "weight_decay": loguniform(1e-6, 1e-2),
        "channels": lograndint(2, 16),   # first convolution; the second has twice as many
        "hidden": lograndint(8, 256),    # units of the dense layer
    }
