"""Dynamic masking in ``tf.data``: tfssl's stateless ``MLMMasker`` vs keras-hub's
``MaskedLMMaskGenerator`` (tfssl's masker until 2026-12-03), batches per second of a
parallel ``map`` over random rows, after a warm-up; also whole-word masking. Prints one
JSON line.

    python benchmarks/masking_throughput.py
"""

import json
import os
import sys
import time

from absl import app, flags

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from _common import define_threads_flag, set_threads  # noqa: E402

flags.DEFINE_integer("batch_size", 64, "Rows per batch.")
flags.DEFINE_integer("max_length", 128, "Tokens per row.")
flags.DEFINE_integer("vocab_size", 8000, "Vocabulary size.")
flags.DEFINE_integer("batches", 200, "Timed batches per masker (after 20 untimed).")
define_threads_flag()
FLAGS = flags.FLAGS


def main(argv):
    del argv
    stdout, sys.stdout = sys.stdout, sys.stderr
    import keras_hub
    import numpy as np
    import tensorflow as tf

    set_threads(FLAGS.threads)
    from tfssl.text.masking import MLMMasker, num_mask_slots
    from tfssl.text.vocab import SPECIAL_TOKENS

    n_special, V, L = len(SPECIAL_TOKENS), FLAGS.vocab_size, FLAGS.max_length
    rows = np.random.default_rng(0).integers(
        n_special, V, (FLAGS.batch_size * (FLAGS.batches + 20), L)).astype(np.int32)
    vocab = SPECIAL_TOKENS + [("##" if i % 3 else "") + f"p{i}" for i in range(V - n_special)]

    def batches():
        return tf.data.Dataset.from_tensor_slices(rows).batch(FLAGS.batch_size)

    def rate(ds):
        it = iter(ds)
        for _ in range(20):
            next(it)
        start = time.perf_counter()
        for _ in range(FLAGS.batches):
            next(it)
        return round(FLAGS.batches / (time.perf_counter() - start), 1)

    auto = tf.data.AUTOTUNE
    peer = keras_hub.layers.MaskedLMMaskGenerator(
        vocabulary_size=V, mask_selection_rate=0.15, mask_token_id=4,
        mask_selection_length=num_mask_slots(L, 0.15),
        unselectable_token_ids=list(range(n_special)), dtype="float32")
    out = {
        "benchmark": "masking_throughput", "batch_size": FLAGS.batch_size, "max_length": L,
        "threads": FLAGS.threads, "tf": tf.__version__,
        "tfssl_batches_per_s": rate(MLMMasker(V, L).mask_batches(
            batches(), 0, num_parallel_calls=auto)),
        "tfssl_whole_word_batches_per_s": rate(
            MLMMasker(V, L, whole_word=True, vocab=vocab).mask_batches(
                batches(), 0, num_parallel_calls=auto)),
        "kerashub_batches_per_s": rate(batches().map(peer, num_parallel_calls=auto)),
    }
    out["ratio"] = round(out["tfssl_batches_per_s"] / out["kerashub_batches_per_s"], 2)
    print(json.dumps(out), file=stdout, flush=True)


if __name__ == "__main__":
    app.run(main)
