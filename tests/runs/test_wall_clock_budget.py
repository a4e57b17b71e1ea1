"""WallClockBudget (``--budget_minutes``): the learning-rate curve over the budget and the
stop, on a real ``fit``."""

import math
import time

import keras
import numpy as np
import tensorflow as tf

from tfssl.runs.budget import WallClockBudget


def test_learning_rate_curve():
    b = WallClockBudget(seconds=100, peak_lr=1e-3, warmup_fraction=0.1)
    assert b.learning_rate(0.0) == 1e-3 * 1e-3  # not 0: the first step still moves
    assert math.isclose(b.learning_rate(0.05), 0.5e-3)
    assert math.isclose(b.learning_rate(0.1), 1e-3)
    assert math.isclose(b.learning_rate(0.55), 0.5e-3)
    assert b.learning_rate(1.0) == 0.0
    assert b.learning_rate(2.0) == 0.0  # past the budget: stays annealed
    after = [b.learning_rate(f) for f in np.linspace(0.1, 1.0, 50)]
    assert all(x >= y for x, y in zip(after, after[1:]))
    assert WallClockBudget(10, 2e-3, warmup_fraction=0.0).learning_rate(0.0) == 2e-3


class _SlowStep(keras.callbacks.Callback):
    """Records the learning rate each step trains with, and makes steps take time."""

    def __init__(self):
        super().__init__()
        self.rates = []

    def on_train_batch_begin(self, batch, logs=None):
        self.rates.append(float(self.model.optimizer.learning_rate))

    def on_train_batch_end(self, batch, logs=None):
        time.sleep(0.02)


def test_fit_stops_at_the_budget_and_anneals():
    keras.utils.set_random_seed(0)
    model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(1)])
    model.compile(optimizer=keras.optimizers.SGD(0.5), loss="mse")
    x = np.random.default_rng(0).normal(size=(64, 4)).astype("float32")
    data = tf.data.Dataset.from_tensor_slices((x, x[:, :1])).batch(8).repeat()
    # Trace the train step first: on a loaded machine tracing alone took past the
    # 2-second budget, which then held one step at the peak rate and no annealing.
    model.fit(data, epochs=1, steps_per_epoch=1, verbose=0)
    budget = WallClockBudget(seconds=2.0, peak_lr=0.1, warmup_fraction=0.2)
    slow = _SlowStep()  # after the budget in the list: it sees the rate the budget set
    history = model.fit(data, epochs=1000, steps_per_epoch=5, verbose=0,
                        callbacks=[budget, slow])
    assert budget.steps < 5000 and len(history.epoch) < 1000  # stopped by the budget
    assert budget.elapsed >= 2.0
    assert budget.steps == len(slow.rates)
    assert set(budget.logs) >= {"loss"}
    peak = int(np.argmax(slow.rates))
    # The optimizer holds the rate in float32, where the peak 0.1 reads back as 0.100000001:
    # a step that lands on the peak (the end of warmup) must not fail the bound.
    assert max(slow.rates) <= float(np.float32(0.1))
    assert all(a <= b for a, b in zip(slow.rates[:peak], slow.rates[1:peak + 1]))
    assert all(a >= b for a, b in zip(slow.rates[peak:], slow.rates[peak + 1:]))
    assert slow.rates[-1] < 0.5 * max(slow.rates)  # annealed towards 0 by the end
