"""The text side of a run: corpus, WordPiece vocabulary, packing, masking, export."""

import os

import numpy as np

from tfssl.errors import UsageError
from tfssl.runs.files import write_json_atomic


def load_corpus(settings):
    """``(train_docs, validation_docs)`` of a run's settings."""
    from tfssl.data.text import load_text, split_documents

    kw = dict(paragraphs=settings["paragraphs"], text_key=settings["text_key"],
              data_dir=settings["data_dir"], download=settings["download"])
    dataset, eval_dataset = settings["dataset"], settings["eval_dataset"]
    if dataset == "python_docs" and not eval_dataset:
        return load_text(dataset, "train", **kw), load_text(dataset, "validation", **kw)
    train = load_text(dataset, "train", **kw)
    if eval_dataset:
        return train, load_text(eval_dataset, "validation", **kw)
    return split_documents(train, validation_fraction=0.1)


def run_vocabulary(train_docs, vocab_size, lowercase, dataset):
    """``(vocab, facts)``: the run's WordPiece vocabulary and what ``vocab.json`` says
    of it (written with the run's other files, :meth:`TextTask.save_files`).

    Trained once per corpus content and settings (:func:`tfssl.text.cached_vocabulary`,
    under ``$TFSSL_CACHE/vocab``): a rerun or another run on the same text reuses it.
    """
    from tfssl.text.vocab import cached_vocabulary

    vocab, cache_path, hit = cached_vocabulary(train_docs, vocab_size, lowercase=lowercase)
    return vocab, {"dataset": dataset, "vocab_size": vocab_size, "lowercase": lowercase,
                   "num_train_docs": len(train_docs), "cache_file": cache_path,
                   "cache_hit": hit}


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


def token_baselines(train_rows, val_y, val_w, vocab_size, num_special):
    """Most-frequent-token accuracy and unigram perplexity on the validation targets."""
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


class TextTask:
    """Everything a run does that depends on text rather than on the method."""

    # XLA ran the bert_tiny step 2.7x faster on one CPU, 1.4x slower on another: measured
    # per machine (tfssl.runs.machine.default_cpu_xla).
    cpu_xla = "measure"
    exclude_from_weight_decay = ("bias", "gamma", "beta")  # BERT's practice

    def __init__(self, spec, settings):
        import tensorflow as tf

        from tfssl.encoders.bert import BERT_PRESETS, DEFAULT_POSITIONS
        from tfssl.methods.text_classifier import MIN_MAX_LENGTH
        from tfssl.text.masking import MLMMasker
        from tfssl.text.packing import pack_documents, tokenize_documents
        from tfssl.text.vocab import SPECIAL_TOKENS, make_tokenizer

        s = self.settings = settings
        self.spec = spec
        self.positions = DEFAULT_POSITIONS
        max_length, batch_size = s["max_length"], s["batch_size"]
        if s["encoder"] not in BERT_PRESETS:
            raise UsageError(f"--encoder={s['encoder']!r} is not a text encoder; expected "
                             f"one of {', '.join(BERT_PRESETS)}")
        if max_length > self.positions:
            raise UsageError(f"--max_length={max_length} is larger than the encoder's "
                             f"{self.positions} positions")
        if max_length < MIN_MAX_LENGTH:  # the fine-tuning rule too
            raise UsageError(f"--max_length={max_length}: expected at least "
                             f"{MIN_MAX_LENGTH}")
        if s["vocab_size"] <= len(SPECIAL_TOKENS):
            raise UsageError(
                f"--vocab_size={s['vocab_size']} is too small: the {len(SPECIAL_TOKENS)} "
                f"special tokens {' '.join(SPECIAL_TOKENS)} need ids (use a few thousand)")
        # The masker validates mask_rate before any heavy work.
        MLMMasker(s["vocab_size"], max_length, mask_rate=s["mask_rate"],
                  max_span_length=s.get("max_span_length", 1))

        self.train_docs, self.val_docs = load_corpus(s)
        self.vocab, self.vocab_facts = run_vocabulary(
            self.train_docs, s["vocab_size"], s["lowercase"], s["dataset"])
        tokenizer = make_tokenizer(self.vocab, lowercase=s["lowercase"])
        self.train_rows, _ = pack_documents(tokenize_documents(tokenizer, self.train_docs),
                                            max_length)
        self.val_rows, _ = pack_documents(tokenize_documents(tokenizer, self.val_docs),
                                          max_length)
        if len(self.train_rows) == 0 or len(self.val_rows) == 0:
            raise UsageError(f"dataset {s['dataset']!r}: no tokens to train or validate on")
        if len(self.train_rows) < batch_size:
            raise UsageError(f"--batch_size={batch_size} is larger than the "
                             f"{len(self.train_rows)} training sequences of {max_length} "
                             "tokens")
        self.num_train = len(self.train_rows)
        self.input_shape = None
        self.masker = MLMMasker(len(self.vocab), max_length, mask_rate=s["mask_rate"],
                                whole_word=s["whole_word_masking"], vocab=self.vocab,
                                max_span_length=s.get("max_span_length", 1))
        # Validation masks are drawn once, so every evaluation sees the same targets.
        self.val_x, self.val_y, self.val_w = _materialize(self.masker.mask_batches(
            tf.data.Dataset.from_tensor_slices(self.val_rows).batch(batch_size),
            seed=s["seed"] + 1))
        if not (self.val_w > 0).any():  # else perplexity 1.0 and NaN baselines, exit 0
            what = (f"--eval_dataset={s['eval_dataset']}" if s["eval_dataset"] else
                    f"the held-out part of --dataset={s['dataset']}")
            raise UsageError(f"{what}: no token to mask for validation (every piece is "
                             "[UNK] or special; is it the same language and encoding as "
                             "the training text?)")
        self.validation_data = tf.data.Dataset.from_tensor_slices(
            (self.val_x, self.val_y, self.val_w)).batch(batch_size)
        self.num_special = len(SPECIAL_TOKENS)

    def info(self):
        s = self.settings
        return {"vocab_file": "vocab.txt", "vocab_size_actual": len(self.vocab),
                "positions": self.positions, "train_sequences": int(len(self.train_rows)),
                "validation_sequences": int(len(self.val_rows)),
                "train_documents": len(self.train_docs),
                "validation_documents": len(self.val_docs),
                "max_length": s["max_length"], "lowercase": s["lowercase"]}

    def describe(self):
        return (f"{self.settings['dataset']}: {len(self.train_docs)} train / "
                f"{len(self.val_docs)} validation documents -> {len(self.train_rows)} / "
                f"{len(self.val_rows)} sequences of {self.settings['max_length']}; vocab "
                f"{len(self.vocab)}")

    def train_dataset(self, input_context=None):
        """Packed rows, reshuffled every pass and masked afresh in every batch; under an
        ``InputContext`` this pipeline's shard of the rows in per-replica batches."""
        import tensorflow as tf

        s = self.settings
        rows, batch = tf.data.Dataset.from_tensor_slices(self.train_rows), s["batch_size"]
        stream = 0
        if input_context is not None:
            stream = input_context.input_pipeline_id
            rows = rows.shard(input_context.num_input_pipelines, stream)
            batch = input_context.get_per_replica_batch_size(batch)
        batches = (rows.cache()
                   .shuffle(len(self.train_rows), seed=s["seed"],
                            reshuffle_each_iteration=True)
                   .repeat()
                   .batch(batch, drop_remainder=True))
        # Masks keyed by (seed, pipeline, batch index): the same in every process.
        return (self.masker.mask_batches(batches, seed=s["seed"], stream=stream,
                                         num_parallel_calls=tf.data.AUTOTUNE)
                .prefetch(tf.data.AUTOTUNE))

    def build_encoder(self):
        import keras

        from tfssl.encoders.bert import get_text_encoder

        keras.utils.set_random_seed(self.settings["seed"])
        return get_text_encoder(self.settings["encoder"], len(self.vocab),
                                max_length=self.positions,
                                normalize_first=bool(self.settings.get("pre_norm", False)))

    def callbacks(self):
        return []

    def evaluate(self, model, encoder):
        """Masked accuracy / perplexity on the validation masks, next to baselines."""
        result = model.evaluate(self.validation_data, verbose=0, return_dict=True)
        most, baseline = token_baselines(self.train_rows, self.val_y, self.val_w,
                                         len(self.vocab), self.num_special)
        return {
            "validation": {  # every logged value (masked_accuracy, perplexity, loss...)
                **{name: float(value) for name, value in result.items()},
                "num_sequences": int(len(self.val_rows)),
                "num_masked_tokens": int(np.sum(self.val_w > 0)),
            },
            "baseline": {"most_frequent_token": self.vocab[most], **baseline},
        }

    def summary(self, metrics):
        v, b = metrics["validation"], metrics["baseline"]
        return {"masked_accuracy": v["masked_accuracy"], "perplexity": v["perplexity"],
                "baseline_masked_accuracy": b["masked_accuracy"],
                "unigram_perplexity": b["unigram_perplexity"]}

    def input_error(self, exc):
        """Text is decoded before training: no error of the pipeline is the input's."""
        return None

    def save_files(self, model_dir):
        """The run folder's text files: ``vocab.txt`` and ``vocab.json``."""
        from tfssl.text.vocab import save_vocabulary

        save_vocabulary(self.vocab, os.path.join(model_dir, "vocab.txt"))
        write_json_atomic(os.path.join(model_dir, "vocab.json"), self.vocab_facts)

    def export(self, encoder, path):
        from tfssl.export.text import export_text_encoder

        export_text_encoder(encoder, self.vocab, path, self.settings["max_length"],
                            self.settings["lowercase"])
