"""MLM quality on WikiText-2 for a fixed wall-clock budget, then SST-2 transfer.

Pretrains a BERT encoder with masked-LM on ``wiki.train.raw`` for ``--budget_minutes``,
reports masked-token accuracy and perplexity on ``wiki.valid.raw`` (fixed masks) next to
the most-frequent-token / unigram baselines, then fine-tunes on ``sst2/train.txt`` and
reports ``sst2/dev.txt`` accuracy for the pretrained encoder and for the same
architecture from random initialisation (same budget). One JSON line.

    python benchmarks/mlm_wikitext2.py --budget_minutes=15 [--encoder=bert_tiny]
"""

import json
import os
import time

from absl import app, flags

DATA = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "shared", "data")
flags.DEFINE_string("data_dir", DATA, "Folder with wikitext2/ and sst2/.")
flags.DEFINE_float("budget_minutes", 15.0, "Wall-clock budget for MLM pretraining.")
flags.DEFINE_string("encoder", "bert_tiny", "bert_tiny | bert_mini | bert_small | bert_base")
flags.DEFINE_integer("vocab_size", 8192, "WordPiece vocabulary size.")
flags.DEFINE_integer("max_length", 128, "Tokens per pretraining sequence.")
flags.DEFINE_integer("batch_size", 32, "Pretraining batch size.")
flags.DEFINE_float("learning_rate", 1e-3, "Peak AdamW learning rate (constant after warm-up).")
flags.DEFINE_integer("warmup_steps", 200, "Linear warm-up steps.")
flags.DEFINE_integer("finetune_epochs", 2, "SST-2 fine-tuning epochs (each encoder).")
flags.DEFINE_integer("finetune_max_length", 64, "Tokens per SST-2 sentence.")
flags.DEFINE_enum("finetune_mode", "finetune", ["finetune", "linear"], "Transfer protocol.")
flags.DEFINE_bool("jit_compile", True, "XLA-compile the train step (single device).")
flags.DEFINE_integer("seed", 0, "Seed.")
FLAGS = flags.FLAGS


def main(argv):
    del argv
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    import keras
    import numpy as np
    import tensorflow as tf

    from tfssl.data.text import load_labeled_text, load_text
    from tfssl.encoders.bert import get_text_encoder
    from tfssl.methods.masked_lm import MaskedLM
    from tfssl.methods.text_classifier import finetune_text_classifier
    from tfssl.text import (MLMMasker, make_tokenizer, pack_documents, tokenize_documents,
                            train_vocabulary)

    t0 = time.time()
    keras.utils.set_random_seed(FLAGS.seed)
    wiki = os.path.join(FLAGS.data_dir, "wikitext2")
    train_docs = load_text(f"textfile:{os.path.join(wiki, 'wiki.train.raw')}")
    val_docs = load_text(f"textfile:{os.path.join(wiki, 'wiki.valid.raw')}")
    vocab = train_vocabulary(train_docs, FLAGS.vocab_size)
    tok = make_tokenizer(vocab)
    L, B = FLAGS.max_length, FLAGS.batch_size
    train_rows, _ = pack_documents(tokenize_documents(tok, train_docs), L)
    val_rows, _ = pack_documents(tokenize_documents(tok, val_docs), L)
    masker = MLMMasker(len(vocab), L)
    prep_s = time.time() - t0

    train_ds = masker.mask_batches(
        tf.data.Dataset.from_tensor_slices(train_rows).cache()
        .shuffle(len(train_rows), seed=FLAGS.seed).repeat().batch(B, drop_remainder=True),
        seed=FLAGS.seed, num_parallel_calls=tf.data.AUTOTUNE).prefetch(tf.data.AUTOTUNE)
    val = list(masker.mask_batches(tf.data.Dataset.from_tensor_slices(val_rows).batch(B),
                                   seed=FLAGS.seed + 1))
    val_x = {k: np.concatenate([b[0][k].numpy() for b in val]) for k in val[0][0]}
    val_y = np.concatenate([b[1].numpy() for b in val])
    val_w = np.concatenate([b[2].numpy() for b in val])

    counts = np.bincount(train_rows.reshape(-1), minlength=len(vocab)).astype(float)
    counts[:5] = 0
    targets = val_y[val_w > 0]
    probs = (counts + 1) / (counts.sum() + len(vocab) - 5)
    baseline = {"masked_accuracy": float(np.mean(targets == counts.argmax())),
                "unigram_perplexity": float(np.exp(-np.mean(np.log(probs[targets]))))}

    class Budget(keras.callbacks.Callback):
        def __init__(self, seconds):
            super().__init__()
            self.seconds, self.steps = seconds, 0

        def on_train_begin(self, logs=None):
            self.start = time.time()

        def on_train_batch_end(self, batch, logs=None):
            self.steps += 1
            if time.time() - self.start > self.seconds:
                self.model.stop_training = True

    lr = FLAGS.learning_rate
    warm = max(1, FLAGS.warmup_steps)
    schedule = keras.optimizers.schedules.CosineDecay(
        0.0, 10**9, alpha=1.0, warmup_target=lr, warmup_steps=warm)  # warm-up, constant
    encoder = get_text_encoder(FLAGS.encoder, len(vocab), max_length=max(L, 512))
    model = MaskedLM(encoder)
    opt = keras.optimizers.AdamW(schedule, weight_decay=0.01)
    opt.exclude_from_weight_decay(var_names=["bias", "gamma", "beta"])
    model.compile(optimizer=opt, jit_compile=FLAGS.jit_compile)
    budget = Budget(FLAGS.budget_minutes * 60)
    steps_per_epoch = max(1, len(train_rows) // B)
    model.fit(train_ds, epochs=10**6, steps_per_epoch=steps_per_epoch, callbacks=[budget],
              verbose=0)
    pretrain_s = time.time() - budget.start
    result = model.evaluate(val_x, val_y, sample_weight=val_w, batch_size=B, verbose=0,
                            return_dict=True)

    sst = os.path.join(FLAGS.data_dir, "sst2")
    train = load_labeled_text(os.path.join(sst, "train.txt"))
    dev = load_labeled_text(os.path.join(sst, "dev.txt"), label_names=train.label_names)
    keras.utils.set_random_seed(FLAGS.seed)
    scratch_encoder = keras.models.clone_model(encoder)
    common = dict(max_length=FLAGS.finetune_max_length, mode=FLAGS.finetune_mode,
                  epochs=FLAGS.finetune_epochs, batch_size=32, seed=FLAGS.seed, verbose=0)
    t1 = time.time()
    _, pre = finetune_text_classifier(encoder, vocab, train, dev, **common)
    _, scr = finetune_text_classifier(scratch_encoder, vocab, train, dev, **common)
    out = {
        "benchmark": "mlm_wikitext2",
        "encoder": FLAGS.encoder,
        "vocab_size": len(vocab),
        "max_length": L,
        "batch_size": B,
        "budget_minutes": FLAGS.budget_minutes,
        "pretrain_steps": budget.steps,
        "pretrain_tokens_per_s": round(budget.steps * B * L / pretrain_s, 1),
        "train_sequences": int(len(train_rows)),
        "wikitext2_valid": {
            "masked_accuracy": round(float(result["masked_accuracy"]), 4),
            "perplexity": round(float(result["perplexity"]), 2),
            "num_masked_tokens": int(targets.size),
        },
        "baseline": {k: round(v, 4) for k, v in baseline.items()},
        "sst2_dev_accuracy": {
            "pretrained": round(pre["accuracy"], 4),
            "scratch": round(scr["accuracy"], 4),
            "majority_class": round(pre["majority_class_accuracy"], 4),
            "mode": FLAGS.finetune_mode,
            "epochs": FLAGS.finetune_epochs,
        },
        "prep_s": round(prep_s, 1),
        "finetune_s": round(time.time() - t1, 1),
        "wall_s": round(time.time() - t0, 1),
    }
    print(json.dumps(out))


if __name__ == "__main__":
    app.run(main)
