"""Time in a run: training for a wall-clock budget, how often to validate; backups
across workers."""

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


# A validation batch costs about a third of a train step (forward only; measured on
# bert_tiny here: 125 batches of 32 x 128 tokens in 10 s vs 0.24 s per train step).
VALIDATION_BATCH_COST = 1 / 3
VALIDATION_SHARE = 0.1  # at most about this share of the training compute


def validation_every(validation_data, steps_per_epoch):
    """Epochs between two validations during ``fit`` (Keras's ``validation_freq``).

    Every epoch, unless the validation set is large next to an epoch: then often enough
    that validation takes about ``VALIDATION_SHARE`` of the compute. A 62-step epoch of
    the SST-2 sentences with WikiText-2 valid (125 batches) validated after every epoch
    spent about 40% of a wall-clock budget on it; now every 7th epoch. The run's final
    validation (``metrics.json``) is separate and always happens.
    """
    if validation_data is None:
        return 1
    batches = int(validation_data.cardinality())
    if batches <= 0 or steps_per_epoch is None or steps_per_epoch <= 0:
        return 1  # unknown or infinite: Keras validates on its own terms
    cost = batches * VALIDATION_BATCH_COST / (VALIDATION_SHARE * steps_per_epoch)
    return max(1, math.ceil(cost - 1e-9))


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
