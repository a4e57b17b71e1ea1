"""Measured results of trained zoo entries: entry name -> the headline numbers of its
card (``knn_top1``, ``knn_top1_random_init``, ``masked_accuracy``, ``train_seconds``,
``hardware``, ...), written by a script from a trained run's ``card.json``
(:func:`tfssl.zoo.card_from_run`). Nothing is entered by hand: an entry that has not been
trained and measured is absent.
"""

RESULTS = {}
