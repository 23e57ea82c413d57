"""A training loop: mini-batches, an optimizer, a progress bar, a history.

::

    trainer = Trainer(net, x_train, t_train, x_test, t_test,
                      epochs=10, optimizer="adam",
                      optimizer_param={"lr": 0.01}, rng=np.random.default_rng(0))
    history = trainer.train()   # {"loss": [...], "train_acc": [...], "test_acc": [...]}

The network needs ``params`` (a dict of arrays), ``gradient(x, t)`` (a
dict of arrays with the same keys), ``loss(x, t)`` and ``accuracy(x, t)``:
every net in ``dlcore.nets`` has them.
"""

import numpy as np
# the text bar, not tqdm.auto: it works in a terminal, JupyterLab, Colab
# and the book alike, where tqdm.auto without ipywidgets warns with this
# machine's paths
from tqdm import tqdm

from dlcore.backend import get_array_module
from dlcore.guard import reference
from dlcore.optim import SGD, AdaGrad, Adam, Momentum, RMSprop

__all__ = ["Trainer", "make_optimizer", "OPTIMIZERS", "train_network"]

OPTIMIZERS = {
    "sgd": SGD,
    "momentum": Momentum,
    "adagrad": AdaGrad,
    "rmsprop": RMSprop,
    "adam": Adam,
}


def make_optimizer(optimizer="sgd", optimizer_param=None):
    """An optimizer from a name in OPTIMIZERS (any case) and its keyword
    arguments, or ``optimizer`` itself when it already has ``update``."""
    if isinstance(optimizer, str):
        key = optimizer.lower()
        if key not in OPTIMIZERS:
            raise ValueError(
                f"unknown optimizer {optimizer!r}: choose one of "
                f"{sorted(OPTIMIZERS)} or pass an optimizer object"
            )
        return OPTIMIZERS[key](**(optimizer_param or {}))
    if not callable(getattr(optimizer, "update", None)):
        raise TypeError(
            "optimizer must be a name such as 'adam' or an object with "
            f"update(params, grads); got {type(optimizer).__name__}"
        )
    if optimizer_param:
        raise ValueError(
            "optimizer_param applies to an optimizer given by name; "
            "configure an optimizer object when you create it"
        )
    return optimizer


def _sgd_epoch(network, x_train, t_train, batch_size, lr, rng):
    """One epoch of train_network's steps: a new order of the samples
    from ``rng`` (a Generator), then ``p -= lr * grad`` after each batch.
    Withheld with train_network (``coursekit.withheld.HELPERS``)."""
    n = len(x_train)
    order = rng.permutation(n)
    for start in range(0, n, batch_size):
        batch = order[start:start + batch_size]
        grads = network.gradient(x_train[batch], t_train[batch])
        for key in network.params:
            network.params[key] -= lr * grads[key]


@reference("train_network")
def train_network(network, x_train, t_train, x_test, t_test, epochs=10,
                  batch_size=100, lr=0.1, rng=None):
    """Plain mini-batch gradient descent (chapter 5's training loop).

    Each epoch draws a new order of the N training samples from ``rng``
    (a NumPy Generator, a seed, or None), takes them ``batch_size`` at a
    time (the last batch may be smaller: every sample is used once per
    epoch), and after each batch steps every parameter in place,
    ``p -= lr * grad``. After each epoch it records the loss and the
    accuracy on the whole training set and the accuracy on the test set.
    Returns ``{"loss": [...], "train_acc": [...], "test_acc": [...]}``,
    one float per epoch.
    """
    rng = np.random.default_rng(rng)
    history = {"loss": [], "train_acc": [], "test_acc": []}
    for _ in range(epochs):
        _sgd_epoch(network, x_train, t_train, batch_size, lr, rng)
        history["loss"].append(float(network.loss(x_train, t_train)))
        history["train_acc"].append(float(network.accuracy(x_train,
                                                           t_train)))
        history["test_acc"].append(float(network.accuracy(x_test, t_test)))
    return history



@reference("compare_optimizers")
def compare_optimizers(networks, optimizers, x_train, t_train, x_test,
                       t_test, epochs=5, batch_size=100, seed=0):
    """Train ``networks[name]`` with ``optimizers[name]`` for each name, on
    the same batches in the same order, and say which did best
    (chapter 6's comparison).

    For every name, a new ``np.random.default_rng(seed)`` draws each
    epoch's order of the N training samples (so every network sees the
    same batches); after each batch, ``optimizer.update(network.params,
    network.gradient(x_batch, t_batch))``; after each epoch the loss on
    the whole training set is recorded. Returns ``{"test_acc": {name:
    float}, "loss": {name: [one float per epoch]}, "winner": the name of
    the highest test accuracy}`` (the first such name on a tie).
    """
    if set(networks) != set(optimizers):
        raise ValueError("networks and optimizers need the same names")
    result = {"test_acc": {}, "loss": {}}
    n = len(x_train)
    for name in networks:
        network, optimizer = networks[name], optimizers[name]
        order_rng = np.random.default_rng(seed)
        losses = []
        for _ in range(epochs):
            order = order_rng.permutation(n)
            for start in range(0, n, batch_size):
                batch = order[start:start + batch_size]
                optimizer.update(network.params,
                                 network.gradient(x_train[batch],
                                                  t_train[batch]))
            losses.append(float(network.loss(x_train, t_train)))
        result["loss"][name] = losses
        result["test_acc"][name] = float(network.accuracy(x_test, t_test))
    accs = result["test_acc"]
    result["winner"] = max(accs, key=lambda k: accs[k])
    return result

class Trainer:
    """Train ``network`` by mini-batch gradient descent.

    An epoch uses every training sample once: the N samples, in an order
    shuffled by ``rng`` (a NumPy Generator, a seed, or None), are taken
    ``mini_batch_size`` at a time, in ``iter_per_epoch = ceil(N /
    mini_batch_size)`` mini-batches; the last one holds the rest, fewer
    than ``mini_batch_size`` when that does not divide N. After each
    iteration the mini-batch loss is recorded; after each
    epoch the accuracy on the training and test sets (on their first
    ``evaluate_sample_num_per_epoch`` samples, when given).

    ``lr_schedule``: None keeps the optimizer's own, constant learning
    rate; otherwise a callable ``lr_schedule(step) -> float`` (such as
    ``dlcore.optim.CosineDecay``) that sets ``optimizer.lr`` before
    update number ``step``, counted from 0 over the whole run (there are
    ``max_iter`` updates).
    """

    def __init__(self, network, x_train, t_train, x_test, t_test,
                 epochs=20, mini_batch_size=100, optimizer="sgd",
                 optimizer_param=None, evaluate_sample_num_per_epoch=None,
                 progress=True, rng=None, lr_schedule=None):
        for name, x, t in (("train", x_train, t_train),
                           ("test", x_test, t_test)):
            if len(x) != len(t):
                raise ValueError(
                    f"x_{name} has {len(x)} samples but t_{name} has "
                    f"{len(t)} labels: they must match"
                )
        if len(x_train) == 0:
            raise ValueError("x_train is empty")
        if int(epochs) != epochs or epochs < 1:
            raise ValueError(f"epochs must be a positive integer; got {epochs}")
        if int(mini_batch_size) != mini_batch_size or mini_batch_size < 1:
            raise ValueError(
                f"mini_batch_size must be a positive integer; got {mini_batch_size}"
            )
        self.network = network
        self.x_train, self.t_train = x_train, t_train
        self.x_test, self.t_test = x_test, t_test
        self.epochs = int(epochs)
        self.batch_size = min(int(mini_batch_size), len(x_train))
        self.optimizer = make_optimizer(optimizer, optimizer_param)
        if lr_schedule is not None:
            if not callable(lr_schedule):
                raise TypeError(
                    "lr_schedule must be None or a callable step -> "
                    f"learning rate; got {type(lr_schedule).__name__}")
            if not hasattr(self.optimizer, "lr"):
                raise TypeError(
                    "lr_schedule sets optimizer.lr, but this "
                    f"{type(self.optimizer).__name__} has no lr attribute")
            if optimizer_param and "lr" in optimizer_param:
                raise ValueError(
                    "give the learning rate once: as optimizer_param['lr'] "
                    "or as lr_schedule, not both")
        self.lr_schedule = lr_schedule
        self.evaluate_sample_num_per_epoch = evaluate_sample_num_per_epoch
        self.progress = progress
        self.rng = np.random.default_rng(rng)
        # ceil: the last mini-batch takes the remainder, so no sample is
        # left out of an epoch
        self.iter_per_epoch = -(-len(x_train) // self.batch_size)
        self.max_iter = self.epochs * self.iter_per_epoch
        self.step = 0  # updates made so far: the schedule's step
        self.history = {"loss": [], "train_acc": [], "test_acc": []}

    def _batches(self):
        """Index arrays of one epoch's mini-batches."""
        order = self.rng.permutation(len(self.x_train))
        xp = get_array_module(self.x_train)
        for start in range(0, len(order), self.batch_size):
            idx = order[start:start + self.batch_size]  # the last may be short
            yield idx if xp is np else xp.asarray(idx)

    def train_step(self, idx):
        """One update on the mini-batch ``idx``; returns its loss (float).

        With an ``lr_schedule``, the update uses the rate
        ``lr_schedule(self.step)``; ``self.step`` then counts it.
        """
        x, t = self.x_train[idx], self.t_train[idx]
        grads = self.network.gradient(x, t)
        # Nets in dlcore keep the loss of the forward pass behind the
        # gradient; for others, spend one more forward pass.
        loss = getattr(self.network, "last_loss", None)
        if loss is None:
            loss = self.network.loss(x, t)
        if self.lr_schedule is not None:
            self.optimizer.lr = float(self.lr_schedule(self.step))
        self.optimizer.update(self.network.params, grads)
        self.step += 1
        loss = float(loss)
        self.history["loss"].append(loss)
        return loss

    def evaluate(self):
        """Accuracy on the train and test sets (or their first samples)."""
        n = self.evaluate_sample_num_per_epoch
        sets = [(self.x_train, self.t_train), (self.x_test, self.t_test)]
        if n is not None:
            sets = [(x[:n], t[:n]) for x, t in sets]
        return tuple(float(self.network.accuracy(x, t)) for x, t in sets)

    def train(self):
        """Run all epochs; returns (and keeps) ``history``."""
        bar = tqdm(total=self.max_iter, disable=not self.progress,
                   desc="training", unit="it", leave=True)
        try:
            for epoch in range(self.epochs):
                for idx in self._batches():
                    loss = self.train_step(idx)
                    bar.update(1)
                    bar.set_postfix(epoch=epoch + 1, loss=f"{loss:.4f}",
                                    refresh=False)
                train_acc, test_acc = self.evaluate()
                self.history["train_acc"].append(train_acc)
                self.history["test_acc"].append(test_acc)
                bar.set_postfix(epoch=epoch + 1, loss=f"{loss:.4f}",
                                train_acc=f"{train_acc:.3f}",
                                test_acc=f"{test_acc:.3f}")
        finally:
            bar.close()
        return self.history
