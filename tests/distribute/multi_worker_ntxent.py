"""One worker of the multi-worker NT-Xent test (run by test_multi_worker.py).

Usage: python multi_worker_ntxent.py OUT_JSON   (TF_CONFIG set by the test)
Each worker feeds its own half of a fixed global batch; the loss gathers negatives
across workers. Writes the all-reduced loss and this worker's input gradient.
"""

import json
import sys

import numpy as np
import tensorflow as tf

from tfssl.losses import NTXent

strategy = tf.distribute.MultiWorkerMirroredStrategy()
task = json.loads(__import__("os").environ["TF_CONFIG"])["task"]["index"]
rng = np.random.default_rng(0)
z1, z2 = rng.normal(size=(2, 8, 5)).astype("float32")
n = 8 // strategy.num_replicas_in_sync


def dataset_fn(ctx):
    lo = ctx.input_pipeline_id * n
    return tf.data.Dataset.from_tensors((z1[lo:lo + n], z2[lo:lo + n]))


loss = NTXent(0.5)


@tf.function
def step(a, b):
    def fn(x, y):
        with tf.GradientTape() as tape:
            tape.watch(x)
            value = loss(x, y)
        return value, tape.gradient(value, x)
    value, grad = strategy.run(fn, args=(a, b))
    return strategy.reduce("SUM", value, axis=None), grad


dist = strategy.distribute_datasets_from_function(dataset_fn)
a, b = next(iter(dist))
total, grad = step(a, b)
grad = strategy.experimental_local_results(grad)[0].numpy()
with open(sys.argv[1], "w") as f:
    json.dump({"task": task, "replicas": strategy.num_replicas_in_sync,
               "loss": float(total), "grad": grad.tolist()}, f)
