"""Callbacks of a run: training for a wall-clock budget; backups across workers."""

import math
import time

import keras


class WallClockBudget(keras.callbacks.Callback):
    """Stops ``fit`` once ``seconds`` have passed; warm-up + cosine learning rate over time.

    The clock starts when ``fit`` starts (tracing counts). Before every batch the
    optimizer's learning rate is set from the fraction of the budget spent: linear
    warm-up over ``warmup_fraction``, then cosine decay to 0 at the end of the budget,
    so that a run of any length ends annealed. The optimizer must have a plain (float)
    learning rate. After the batch that crosses the budget ``model.stop_training`` is set.

    Attributes after training: ``steps`` taken, ``elapsed`` seconds, the last batch's
    ``logs``.
    """

    def __init__(self, seconds, peak_lr, warmup_fraction=0.05):
        super().__init__()
        self.seconds = float(seconds)
        self.peak_lr = float(peak_lr)
        self.warmup_fraction = float(warmup_fraction)
        self.steps, self.start, self.elapsed, self.logs = 0, None, 0.0, {}

    def learning_rate(self, fraction):
        w = self.warmup_fraction
        if w > 0 and fraction < w:
            return self.peak_lr * max(fraction / w, 1e-3)
        t = min(1.0, (fraction - w) / max(1e-9, 1.0 - w))
        return 0.5 * self.peak_lr * (1.0 + math.cos(math.pi * t))

    def on_train_begin(self, logs=None):
        self.start = time.perf_counter()

    def on_train_batch_begin(self, batch, logs=None):
        fraction = min(1.0, (time.perf_counter() - self.start) / self.seconds)
        self.model.optimizer.learning_rate = self.learning_rate(fraction)

    def on_train_batch_end(self, batch, logs=None):
        self.steps += 1
        self.logs = {k: float(v) for k, v in (logs or {}).items()}
        self.elapsed = time.perf_counter() - self.start
        if self.elapsed >= self.seconds:
            self.model.stop_training = True


class RunBackup(keras.callbacks.BackupAndRestore):
    """``BackupAndRestore`` of a run: every worker restores from the run's backup, only
    the chief writes it (and removes it when training ends).

    ``double_checkpoint``: a kill while the backup is written leaves the previous one to
    resume from (a half-written ``latest.weights.h5`` is not loadable).
    """

    def __init__(self, backup_dir, chief=True):
        super().__init__(backup_dir, double_checkpoint=True, delete_checkpoint=chief)
        self.chief = chief

    def _save_model(self):
        if self.chief:
            super()._save_model()
