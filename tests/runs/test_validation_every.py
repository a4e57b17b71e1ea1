"""How often a run validates during ``fit`` (tfssl.runs.budget.validation_every)."""

import tensorflow as tf

from tfssl.runs.budget import validation_every


def _batches(n):
    return tf.data.Dataset.range(n * 32).batch(32)


def test_every_epoch_unless_validation_is_large_next_to_an_epoch():
    # WikiText-2: 125 validation batches next to 867-step epochs -> every epoch.
    assert validation_every(_batches(125), 867) == 1
    # The SST-2 sentences (62-step epochs) with the same validation -> every 7th.
    assert validation_every(_batches(125), 62) == 7
    assert validation_every(_batches(1), 2) == 2
    assert validation_every(_batches(6), 20) == 1  # exactly 10%: still every epoch


def test_no_or_unsized_validation_is_every_epoch():
    assert validation_every(None, 10) == 1
    assert validation_every(_batches(4).repeat(), 10) == 1
    assert validation_every(_batches(4).filter(lambda x: True), 10) == 1
    assert validation_every(_batches(4), None) == 1
