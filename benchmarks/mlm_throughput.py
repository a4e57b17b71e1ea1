"""MLM train-step throughput of tfssl's MaskedLM (model.fit), one JSON line.

Same configuration and token counting as ../shared/bench/peer_mlm.py (keras-hub
BertMaskedLM / transformers BertForMaskedLM): every sequence position of every step
counts, B * T tokens per step; random ids, 20 mask slots per row.

    python benchmarks/mlm_throughput.py --encoder=bert_mini --batch_size=32 \\
        --max_length=128 --vocab_size=8192 --steps=10 [--compare_peer]

``--compare_peer`` also runs the keras-hub peer script in a subprocess (same machine,
same moment) and adds its tokens/s and the ratio tfssl / keras-hub.
"""

import json
import os
import subprocess
import sys
import time

from absl import app, flags

flags.DEFINE_string("encoder", "bert_mini", "bert_tiny | bert_mini | bert_small | bert_base")
flags.DEFINE_integer("batch_size", 32, "Batch size.")
flags.DEFINE_integer("max_length", 128, "Sequence length.")
flags.DEFINE_integer("vocab_size", 8192, "Vocabulary size.")
flags.DEFINE_integer("mask_slots", 20, "Mask slots per sequence (peer_mlm.py: 20).")
flags.DEFINE_integer("steps", 10, "Timed steps.")
flags.DEFINE_integer("warmup_steps", 3, "Untimed steps first (tracing, compilation).")
flags.DEFINE_enum("precision", "float32", ["float32", "mixed_bfloat16"], "Dtype policy.")
flags.DEFINE_bool("jit_compile", False, "XLA-compile the train step.")
flags.DEFINE_bool("profile", False, "Then trace --steps more steps with TensorFlow's "
                  "profiler and add the op types' time per step (\"profile\").")
flags.DEFINE_bool("compare_peer", False, "Also run ../shared/bench/peer_mlm.py (keras-hub).")
FLAGS = flags.FLAGS


def main(argv):
    del argv
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    import keras
    import numpy as np
    import tensorflow as tf

    from tfssl.encoders.bert import get_text_encoder
    from tfssl.methods.masked_lm import MaskedLM

    if FLAGS.precision != "float32":
        keras.mixed_precision.set_global_policy(FLAGS.precision)
    B, T, V, P = FLAGS.batch_size, FLAGS.max_length, FLAGS.vocab_size, FLAGS.mask_slots
    rng = np.random.default_rng(0)
    tok = rng.integers(5, V, size=(B, T)).astype("int32")
    pos = np.sort(np.stack([rng.choice(np.arange(1, T), P, replace=False)
                            for _ in range(B)]), 1).astype("int32")
    ids = np.take_along_axis(tok, pos, 1)
    x = {"token_ids": tok, "mask_positions": pos}
    ds = tf.data.Dataset.from_tensors((x, ids, np.ones_like(ids, "float32")))
    model = MaskedLM(get_text_encoder(FLAGS.encoder, V, max_length=T))
    model.compile(optimizer=keras.optimizers.AdamW(1e-4), jit_compile=FLAGS.jit_compile)
    model.fit(ds.repeat(FLAGS.warmup_steps), verbose=0)
    t = time.perf_counter()
    model.fit(ds.repeat(FLAGS.steps), verbose=0)
    dt = (time.perf_counter() - t) / FLAGS.steps
    out = {"benchmark": "mlm_throughput", "encoder": FLAGS.encoder, "batch_size": B,
           "max_length": T, "vocab_size": V, "mask_slots": P, "precision": FLAGS.precision,
           "jit_compile": FLAGS.jit_compile, "steps": FLAGS.steps,
           "s_per_step": round(dt, 4), "tokens_per_s": round(B * T / dt, 1),
           "parameters": int(model.count_params())}
    if FLAGS.profile:
        from _common import op_profile  # benchmarks/_common.py

        out["profile"] = op_profile(lambda: model.fit(ds.repeat(FLAGS.steps), verbose=0),
                                    FLAGS.steps)
    if FLAGS.compare_peer:
        peer = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "shared",
                            "bench", "peer_mlm.py")
        env = {**os.environ, "PEER": "kerashub", "BATCH": str(B), "STEPS": str(FLAGS.steps)}
        if FLAGS.precision == "mixed_bfloat16":
            env["PREC"] = "bf16"
        if FLAGS.jit_compile:
            env["XLA"] = "1"
        if not os.path.isfile(peer):
            out["peer_error"] = f"{peer} not found"
        elif (FLAGS.encoder, T, V, P) != ("bert_mini", 128, 8192, 20):
            out["peer_error"] = "peer_mlm.py is fixed to bert_mini, T=128, V=8192, 20 slots"
        else:
            r = subprocess.run([sys.executable, peer], capture_output=True, text=True,
                               env=env)
            try:
                peer_out = json.loads(r.stdout.strip().splitlines()[-1])
                out["peer_kerashub_tokens_per_s"] = round(peer_out["tokens_per_s"], 1)
                out["ratio_vs_kerashub"] = round(
                    out["tokens_per_s"] / peer_out["tokens_per_s"], 3)
            except (IndexError, ValueError, KeyError):
                out["peer_error"] = (r.stderr.strip().splitlines() or ["no output"])[-1]
    print(json.dumps(out))


if __name__ == "__main__":
    app.run(main)
