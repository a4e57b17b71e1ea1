"""``tfssl-pretrain --method=mlm``: BERT masked-LM pretraining from raw text.

Reads the flags declared in :mod:`tfssl.cli.pretrain`. Run directory layout::

    MODEL_DIR/vocab.txt           WordPiece vocabulary (reused when rerun)
    MODEL_DIR/run_config.json     what tfssl-finetune needs (encoder, vocab, lengths)
    MODEL_DIR/encoder.keras       the pretrained encoder
    MODEL_DIR/model.keras         the whole MaskedLM (encoder + tied head)
    MODEL_DIR/export/encoder      SavedModel: raw strings -> pooled / sequence outputs
    MODEL_DIR/metrics.json        validation masked accuracy / perplexity vs baselines
    MODEL_DIR/logs                TensorBoard
    MODEL_DIR/backup              BackupAndRestore (rerun after a kill resumes)
"""

import json
import os
import time

import numpy as np

from tfssl.cli import common
from tfssl.errors import UsageError

DEFAULTS = dict(
    dataset="python_docs",
    encoder="bert_tiny",
    epochs=10,
    batch_size=32,
    max_length=128,
    vocab_size=4096,
    optimizer="adamw",
    learning_rate={"adam": 2e-3, "adamw": 2e-3, "sgd": 0.05, "lars": 0.05},
    weight_decay=0.01,
    warmup_epochs=1.0,
    model_dir=os.path.join("tfssl_runs", "mlm"),
)


def _flag(flags_obj, name):
    value = getattr(flags_obj, name, None)
    if value is None:
        value = DEFAULTS[name]
        if isinstance(value, dict):
            value = value[_flag(flags_obj, "optimizer")]
    return value


def _load_corpus(FLAGS, dataset):
    from tfssl.data.text import load_text, split_documents

    kw = dict(paragraphs=FLAGS.paragraphs, text_key=FLAGS.text_key,
              data_dir=FLAGS.data_dir, download=FLAGS.download)
    if dataset == "python_docs" and not FLAGS.eval_dataset:
        return load_text(dataset, "train", **kw), load_text(dataset, "validation", **kw)
    train = load_text(dataset, "train", **kw)
    if FLAGS.eval_dataset:
        return train, load_text(FLAGS.eval_dataset, "validation", **kw)
    return split_documents(train, validation_fraction=0.1)


def _vocabulary(model_dir, train_docs, vocab_size, lowercase, dataset):
    from tfssl.text.vocab import load_vocabulary, save_vocabulary, train_vocabulary

    path = os.path.join(model_dir, "vocab.txt")
    meta_path = os.path.join(model_dir, "vocab.json")
    meta = {"dataset": dataset, "vocab_size": vocab_size, "lowercase": lowercase,
            "num_train_docs": len(train_docs)}
    if os.path.isfile(path) and os.path.isfile(meta_path):
        with open(meta_path, encoding="utf-8") as f:
            if json.load(f) == meta:
                return load_vocabulary(path)
    vocab = train_vocabulary(train_docs, vocab_size, lowercase=lowercase)
    os.makedirs(model_dir, exist_ok=True)
    save_vocabulary(vocab, path)
    common.write_json_atomic(meta_path, meta)
    return vocab


def _materialize(ds):
    """Concatenates the batches of a finite masked dataset into NumPy arrays."""
    xs, ys, ws = {"token_ids": [], "mask_positions": []}, [], []
    for x, y, w in ds.as_numpy_iterator():
        for k in xs:
            xs[k].append(x[k])
        ys.append(y)
        ws.append(w)
    return ({k: np.concatenate(v) for k, v in xs.items()}, np.concatenate(ys),
            np.concatenate(ws))


def _baselines(train_rows, val_y, val_w, vocab_size, num_special):
    counts = np.bincount(train_rows.reshape(-1), minlength=vocab_size).astype(np.float64)
    counts[:num_special] = 0
    most = int(np.argmax(counts))
    targets = val_y[val_w > 0]
    probs = (counts + 1.0) / (counts.sum() + vocab_size - num_special)
    return most, {
        "masked_accuracy": float(np.mean(targets == most)) if targets.size else 0.0,
        "unigram_perplexity": float(np.exp(-np.mean(np.log(probs[targets]))))
        if targets.size else float("nan"),
        "uniform_perplexity": float(vocab_size - num_special),
    }


def run(FLAGS):
    """Runs the masked-LM job from parsed absl ``FLAGS``."""
    import keras
    import tensorflow as tf

    from tfssl.distribute import make_strategy
    from tfssl.encoders.bert import BERT_PRESETS, DEFAULT_POSITIONS, get_text_encoder
    from tfssl.export.text import export_text_encoder
    from tfssl.methods.masked_lm import MaskedLM
    from tfssl.optimizers import build_optimizer
    from tfssl.text.masking import MLMMasker
    from tfssl.text.packing import pack_documents, tokenize_documents
    from tfssl.text.vocab import SPECIAL_TOKENS, make_tokenizer

    start = time.time()
    dataset = _flag(FLAGS, "dataset")
    encoder_name = _flag(FLAGS, "encoder")
    epochs = _flag(FLAGS, "epochs")
    batch_size = _flag(FLAGS, "batch_size")
    max_length = _flag(FLAGS, "max_length")
    vocab_size = _flag(FLAGS, "vocab_size")
    optimizer_name = _flag(FLAGS, "optimizer")
    lr = _flag(FLAGS, "learning_rate")
    weight_decay = _flag(FLAGS, "weight_decay")
    warmup_epochs = _flag(FLAGS, "warmup_epochs")
    model_dir = _flag(FLAGS, "model_dir")
    positions = DEFAULT_POSITIONS

    # --- validate before any heavy work ---------------------------------------------
    if encoder_name not in BERT_PRESETS:
        raise UsageError(f"--encoder={encoder_name!r} is not a text encoder for "
                         f"--method=mlm; expected one of {', '.join(BERT_PRESETS)}")
    if max_length > positions:
        raise UsageError(f"--max_length={max_length} is larger than the encoder's "
                         f"{positions} positions")
    if max_length < 8:
        raise UsageError(f"--max_length={max_length}: expected at least 8")
    if vocab_size <= len(SPECIAL_TOKENS):
        raise UsageError(
            f"--vocab_size={vocab_size} is too small: the {len(SPECIAL_TOKENS)} special "
            f"tokens {' '.join(SPECIAL_TOKENS)} need ids (use a few thousand)")
    if not 0.0 < FLAGS.mask_rate < 1.0:
        raise UsageError(f"--mask_rate={FLAGS.mask_rate}: expected 0 < rate < 1")
    if epochs < 1:
        raise UsageError(f"--epochs={epochs}: expected >= 1")
    if batch_size < 1:
        raise UsageError(f"--batch_size={batch_size}: expected >= 1")
    if lr <= 0:
        raise UsageError(f"--learning_rate={lr}: expected > 0")
    if FLAGS.steps_per_epoch is not None and FLAGS.steps_per_epoch < 1:
        raise UsageError(f"--steps_per_epoch={FLAGS.steps_per_epoch}: expected >= 1")

    keras.utils.set_random_seed(FLAGS.seed)
    strategy = make_strategy(FLAGS.strategy)
    if FLAGS.precision != "float32":
        keras.mixed_precision.set_global_policy(FLAGS.precision)

    # --- data -----------------------------------------------------------------------
    train_docs, val_docs = _load_corpus(FLAGS, dataset)
    vocab = _vocabulary(model_dir, train_docs, vocab_size, FLAGS.lowercase, dataset)
    tokenizer = make_tokenizer(vocab, lowercase=FLAGS.lowercase)
    train_rows, _ = pack_documents(tokenize_documents(tokenizer, train_docs), max_length)
    val_rows, _ = pack_documents(tokenize_documents(tokenizer, val_docs), max_length)
    if len(train_rows) == 0 or len(val_rows) == 0:
        raise UsageError(f"dataset {dataset!r}: no tokens to train or validate on")
    if len(train_rows) < batch_size:
        raise UsageError(f"--batch_size={batch_size} is larger than the {len(train_rows)} "
                         f"training sequences of {max_length} tokens")
    masker = MLMMasker(len(vocab), max_length, mask_rate=FLAGS.mask_rate,
                       whole_word=FLAGS.whole_word_masking, vocab=vocab)
    steps_per_epoch = len(train_rows) // batch_size
    if FLAGS.steps_per_epoch:
        steps_per_epoch = min(steps_per_epoch, FLAGS.steps_per_epoch)
    train_ds = (tf.data.Dataset.from_tensor_slices(train_rows).cache()
                .shuffle(len(train_rows), seed=FLAGS.seed, reshuffle_each_iteration=True)
                .repeat()
                .batch(batch_size, drop_remainder=True)
                .map(masker, num_parallel_calls=tf.data.AUTOTUNE)
                .prefetch(tf.data.AUTOTUNE))
    # Validation masks are drawn once, so every evaluation sees the same targets.
    tf.random.set_seed(FLAGS.seed + 1)
    val_x, val_y, val_w = _materialize(
        tf.data.Dataset.from_tensor_slices(val_rows).batch(batch_size).map(masker))
    num_special = len(SPECIAL_TOKENS)
    most_frequent, baseline = _baselines(train_rows, val_y, val_w, len(vocab), num_special)
    val_ds = tf.data.Dataset.from_tensor_slices((val_x, val_y, val_w)).batch(batch_size)

    # --- model ----------------------------------------------------------------------
    total_steps = epochs * steps_per_epoch
    with strategy.scope():
        encoder = get_text_encoder(encoder_name, len(vocab), max_length=positions)
        model = MaskedLM(encoder)
        jit = FLAGS.jit_compile
        if jit is None:
            # Keras' "auto" turns XLA off on CPU and under tf.distribute; the MLM step
            # has static shapes (randomness lives in tf.data), and XLA runs it ~2.5x
            # faster on CPU, so it is on unless several replicas are in sync.
            jit = strategy.num_replicas_in_sync == 1
        warmup = int(min(warmup_epochs * steps_per_epoch, total_steps - 1))
        model.compile(optimizer=build_optimizer(
            optimizer_name, lr, total_steps, warmup, weight_decay,
            exclude_from_weight_decay=["bias", "gamma", "beta"]), jit_compile=jit)
    os.makedirs(model_dir, exist_ok=True)
    callbacks = [keras.callbacks.BackupAndRestore(os.path.join(model_dir, "backup")),
                 keras.callbacks.TensorBoard(os.path.join(model_dir, "logs"))]
    print(f"tfssl mlm: {dataset}: {len(train_docs)} train / {len(val_docs)} validation "
          f"documents -> {len(train_rows)} / {len(val_rows)} sequences of {max_length}; "
          f"vocab {len(vocab)}; {encoder_name} ({encoder.count_params():,} parameters); "
          f"{epochs} epochs x {steps_per_epoch} steps; {strategy.num_replicas_in_sync} "
          f"replica(s)", flush=True)
    model.fit(train_ds, epochs=epochs, steps_per_epoch=steps_per_epoch,
              validation_data=val_ds, callbacks=callbacks, verbose="auto")
    train_s = time.time() - start
    result = model.evaluate(val_ds, verbose=0, return_dict=True)

    # --- outputs --------------------------------------------------------------------
    common.save_keras_atomic(encoder, os.path.join(model_dir, "encoder.keras"))
    common.save_keras_atomic(model, os.path.join(model_dir, "model.keras"))
    export_dir = os.path.join(model_dir, "export", "encoder")
    common.replace_dir_atomic(
        lambda p: export_text_encoder(encoder, vocab, p, max_length, FLAGS.lowercase),
        export_dir)
    run_config = {
        "method": "mlm",
        "dataset": dataset,
        "eval_dataset": FLAGS.eval_dataset,
        "encoder": encoder_name,
        "encoder_file": "encoder.keras",
        "vocab_file": "vocab.txt",
        "vocab_size": len(vocab),
        "max_length": max_length,
        "positions": positions,
        "lowercase": FLAGS.lowercase,
        "mask_rate": FLAGS.mask_rate,
        "whole_word_masking": FLAGS.whole_word_masking,
        "epochs": epochs,
        "batch_size": batch_size,
        "learning_rate": lr,
        "optimizer": optimizer_name,
        "weight_decay": weight_decay,
        "warmup_epochs": warmup_epochs,
        "steps_per_epoch": steps_per_epoch,
        "seed": FLAGS.seed,
        "precision": FLAGS.precision,
        "export_dir": "export/encoder",
    }
    common.write_json_atomic(os.path.join(model_dir, "run_config.json"), run_config)
    metrics_path = os.path.join(model_dir, "metrics.json")
    summary = {
        "method": "mlm",
        "dataset": dataset,
        "encoder": encoder_name,
        "validation": {
            "masked_accuracy": float(result["masked_accuracy"]),
            "perplexity": float(result["perplexity"]),
            "loss": float(result["loss"]),
            "num_sequences": int(len(val_rows)),
            "num_masked_tokens": int(np.sum(val_w > 0)),
        },
        "baseline": {
            "most_frequent_token": vocab[most_frequent],
            **baseline,
        },
        "train_sequences": int(len(train_rows)),
        "epochs": epochs,
        "steps": int(total_steps),
        "wall_time_s": round(time.time() - start, 1),
        "train_time_s": round(train_s, 1),
    }
    # Keeps the sections other tools wrote (finetune); an unreadable file is replaced.
    metrics = common.update_json_atomic(metrics_path, lambda m: m.update(summary),
                                        replace_invalid=True)
    v = metrics["validation"]
    print(f"tfssl mlm: validation masked accuracy {v['masked_accuracy']:.3f} (most frequent "
          f"token {vocab[most_frequent]!r}: {baseline['masked_accuracy']:.3f}), perplexity "
          f"{v['perplexity']:.1f} (unigram: {baseline['unigram_perplexity']:.1f}); "
          f"wrote {metrics_path} and {export_dir}", flush=True)
    return metrics
