"""Text classification on a (pretrained) text encoder: fine-tuning and linear probe.

``TextClassifier(encoder, num_classes)`` puts dropout + a dense layer on the encoder's
``pooled_output``. With ``freeze_encoder=True`` the encoder is frozen and run in
inference mode: a linear probe.

:func:`finetune_text_classifier` trains one from labelled texts with ``fit``;
:func:`finetune_run` does it for a ``tfssl-pretrain --method=mlm`` run directory, next
to the same architecture trained from random initialisation with the same budget (what
``tfssl-finetune`` calls).
"""

import os

import keras
import numpy as np
import tensorflow as tf

from tfssl.errors import UsageError, check_number
from tfssl.optimizers.factory import build_before_fit

__all__ = [
    "TextClassifier",
    "LayerDecayAdamW",
    "labeled_text_dataset",
    "finetune_text_classifier",
    "finetune_run",
    "load_run",
    "holdout_split",
    "copy_encoder",
    "check_max_length",
    "check_reinit_layers",
    "check_finetune_settings",
    "reinit_top_layers",
    "select_and_finetune",
    "transfer_curve",
    "MODES",
]

MODES = ("finetune", "linear")
POOLINGS = ("encoder", "mean", "cls")
DEFAULT_LEARNING_RATE = {"finetune": 3e-4, "linear": 3e-3}
#: Variables BERT fine-tuning keeps out of weight decay.
NO_DECAY = ("bias", "gamma", "beta", "layer_norm", "embeddings_layer_norm")


def layer_depth(path, num_layers):
    """Depth of a variable of a BERT classifier for layer-wise learning-rate decay:
    0 for the embeddings, ``i + 1`` for ``transformer_layer_i``, ``num_layers + 1`` for
    everything above the encoder (pooler, classifier)."""
    parts = path.split("/")
    for part in parts:
        if part.startswith("transformer_layer_") and part[18:].isdigit():
            return int(part[18:]) + 1
    if any(p in ("token_embedding", "position_embedding", "embeddings_layer_norm",
                 "segment_embedding") for p in parts):
        return 0
    return num_layers + 1


def count_transformer_layers(encoder):
    return sum(1 for layer in encoder.layers if layer.name.startswith("transformer_layer_"))


#: The fewest ids per text: [CLS], [SEP] and a few pieces (the pretraining rule too).
MIN_MAX_LENGTH = 8


def check_max_length(max_length):
    """``UsageError`` unless ``max_length`` is a whole number of at least 8 ids."""
    if not isinstance(max_length, (int, np.integer)) or max_length < MIN_MAX_LENGTH:
        raise UsageError(f"max_length={max_length}: expected a whole number >= "
                         f"{MIN_MAX_LENGTH} (ids per text)")
    return max_length


def check_reinit_layers(num_layers, depth):
    """``UsageError`` unless ``num_layers`` is a whole number from 0 to ``depth`` (the
    rule of :func:`reinit_top_layers`, also for callers that check before training)."""
    if not isinstance(num_layers, (int, np.integer)) or not 0 <= num_layers <= depth:
        raise UsageError(f"reinit_layers={num_layers}: expected a whole number from 0 to "
                         f"the encoder's {depth} transformer layers")


def _whole(value):
    return isinstance(value, (int, np.integer)) and not isinstance(value, bool)


def check_finetune_settings(*, steps=None, layer_decays=(1.0,), warmup_fraction=0.1,
                            head_steps=0, select_every=0, selecting=False, names=None):
    """``UsageError`` unless the fine-tuning schedule's settings fit together; returns
    ``layer_decays`` as floats.

    The one rule of :func:`finetune_text_classifier` (and of callers that check it
    before they spend a pretraining budget, such as ``benchmarks/mlm_transfer.py``).
    ``selecting``: a selection split will be given (``select_every`` needs one).
    ``names``: how the caller spells each argument in its messages, for example
    ``{"steps": "--finetune_steps"}``; the argument's own name otherwise.
    """
    names = names or {}

    def name(arg):
        return names.get(arg, arg)

    if steps is not None and not (_whole(steps) and steps >= 1):
        raise UsageError(f"{name('steps')}={steps}: expected a whole number >= 1")
    decays = []
    for decay in layer_decays:
        try:
            decays.append(float(decay))
        except (TypeError, ValueError):
            raise UsageError(f"{name('layer_decay')}={decay}: expected 0 < decay <= 1") \
                from None
        if not 0.0 < decays[-1] <= 1.0:
            raise UsageError(f"{name('layer_decay')}={decay}: expected 0 < decay <= 1")
    if not decays:
        raise UsageError(f"{name('layer_decay')}: expected at least one decay")
    if not 0.0 <= warmup_fraction < 1.0:
        raise UsageError(f"{name('warmup_fraction')}={warmup_fraction}: expected "
                         "0 <= f < 1")
    if not (_whole(head_steps) and head_steps >= 0):
        raise UsageError(f"{name('head_steps')}={head_steps}: expected a whole number "
                         ">= 0")
    if select_every and not (_whole(select_every) and select_every > 0 and selecting
                             and steps and steps % select_every == 0):
        raise UsageError(f"{name('select_every')}={select_every}: expected 0 or a "
                         f"divisor of {name('steps')}={steps}, with a selection split")
    return decays


def reinit_top_layers(encoder, num_layers, seed=0):
    """Re-initialises the top ``num_layers`` transformer blocks of a BERT encoder in
    place (with a pre-norm encoder also its final layer norm), keeping the blocks below
    and the embeddings: the few-sample fine-tuning recipe of Zhang et al. 2021
    ("Revisiting Few-sample BERT Fine-tuning"), and, with ``num_layers`` equal to the
    depth, a transfer of the pretrained embeddings alone. The fresh weights are those of
    a new initialisation of the same architecture (``seed``). Returns ``encoder``.

    Raises:
        UsageError: ``num_layers`` outside ``0 .. depth``.
    """
    depth = count_transformer_layers(encoder)
    check_reinit_layers(num_layers, depth)
    if num_layers == 0:
        return encoder
    fresh = copy_encoder(encoder, fresh=True, seed=seed)
    names = [f"transformer_layer_{i}" for i in range(depth - num_layers, depth)]
    names += [layer.name for layer in encoder.layers if layer.name == "final_layer_norm"]
    for name in names:
        encoder.get_layer(name).set_weights(fresh.get_layer(name).get_weights())
    return encoder


@keras.saving.register_keras_serializable(package="tfssl")
class LayerDecayAdamW(keras.optimizers.AdamW):
    """AdamW with layer-wise learning-rate decay (Clark et al. 2020, ELECTRA): the
    variables at depth ``d`` (:func:`layer_depth`) of an encoder with ``num_layers``
    blocks train at ``learning_rate * layer_decay ** (num_layers + 1 - d)``; the head
    at the full rate, the embeddings at the smallest.

    Args:
        layer_decay: the per-layer factor in (0, 1]; 1 is plain AdamW.
        num_layers: the encoder's transformer blocks.
        **kwargs: ``keras.optimizers.AdamW`` arguments.
    """

    def __init__(self, learning_rate=1e-3, layer_decay=1.0, num_layers=0, **kwargs):
        super().__init__(learning_rate=learning_rate, **kwargs)
        self.layer_decay = float(layer_decay)
        self.num_layers = int(num_layers)
        self._multipliers = []

    def build(self, var_list):
        super().build(var_list)
        top = self.num_layers + 1
        self._multipliers = [self.layer_decay ** (top - layer_depth(v.path, self.num_layers))
                             for v in var_list]

    def update_step(self, gradient, variable, learning_rate):
        scale = self._multipliers[self._get_variable_index(variable)]
        if scale != 1.0:
            learning_rate = learning_rate * scale
        return super().update_step(gradient, variable, learning_rate)

    def get_config(self):
        config = super().get_config()
        config.update({"layer_decay": self.layer_decay, "num_layers": self.num_layers})
        return config


def freeze(model):
    """Makes every layer of ``model``, nested ones included, non-trainable.

    ``model.trainable = False`` alone is not enough for an encoder loaded from a
    ``.keras`` file: a keras-hub ``TransformerEncoder`` deserialized as non-trainable
    creates its attention and feed-forward sublayers in ``build`` as trainable, and the
    assignment on the outer model does not reach them, so a reloaded linear probe
    would train its "frozen" encoder (and its optimizer state would not fit).
    """
    for layer in model._flatten_layers(include_self=True, recursive=True):
        layer.trainable = False


@keras.saving.register_keras_serializable(package="tfssl")
class TextClassifier(keras.Model):
    """Dense classifier on ``encoder(token_ids)["pooled_output"]``; float32 logits.

    Args:
        encoder: a text encoder (``tfssl.encoders.bert`` or compatible).
        num_classes: number of labels.
        dropout: dropout before the dense layer.
        freeze_encoder: linear probe: the encoder is not trained and runs with
            ``training=False``.
        pooling: what the classifier reads: ``"encoder"`` (the encoder's
            ``pooled_output``), ``"mean"`` (mean of ``sequence_output`` over the
            non-padding positions) or ``"cls"`` (``sequence_output`` at ``[CLS]``).
    """

    def __init__(self, encoder, num_classes, dropout=0.1, freeze_encoder=False,
                 pooling="encoder", **kwargs):
        super().__init__(**kwargs)
        if pooling not in POOLINGS:
            raise UsageError(f"pooling={pooling!r}: expected one of {', '.join(POOLINGS)}")
        self.encoder = encoder
        self.pooling = pooling
        self.num_classes = int(num_classes)
        self.dropout_rate = float(dropout)
        self.freeze_encoder = bool(freeze_encoder)
        if self.freeze_encoder:
            freeze(self.encoder)
        self.dropout = keras.layers.Dropout(dropout, name="classifier_dropout")
        self.classifier = keras.layers.Dense(
            self.num_classes, dtype="float32", name="classifier",
            kernel_initializer=keras.initializers.TruncatedNormal(stddev=0.02))
        key = "pooled_output" if pooling == "encoder" else "sequence_output"
        self.classifier.build((None, encoder.output[key].shape[-1]))

    def call(self, token_ids, training=None):
        enc_training = False if self.freeze_encoder else training
        out = self.encoder(token_ids, training=enc_training)
        if self.pooling == "encoder":
            pooled = out["pooled_output"]
        elif self.pooling == "cls":
            pooled = out["sequence_output"][:, 0, :]
        else:
            seq = out["sequence_output"]
            m = tf.cast(tf.not_equal(token_ids, 0), seq.dtype)[:, :, None]
            pooled = tf.reduce_sum(seq * m, 1) / tf.maximum(tf.reduce_sum(m, 1), 1.0)
        return self.classifier(self.dropout(pooled, training=training))

    def get_config(self):
        config = super().get_config()
        config.update({
            "encoder": keras.saving.serialize_keras_object(self.encoder),
            "num_classes": self.num_classes,
            "dropout": self.dropout_rate,
            "freeze_encoder": self.freeze_encoder,
            "pooling": self.pooling,
        })
        return config

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        config["encoder"] = keras.saving.deserialize_keras_object(config["encoder"])
        return cls(**config)


def labeled_text_dataset(tokenizer, texts, labels, max_length, batch_size, shuffle=False,
                         seed=0, drop_remainder=False, repeat=False):
    """``(token_ids [B, max_length], label)`` batches; texts encoded in ``tf.data``."""
    from tfssl.text.packing import encode_texts

    ds = tf.data.Dataset.from_tensor_slices(
        (tf.constant(list(texts), tf.string), tf.constant(np.asarray(labels, np.int32))))
    if shuffle:
        ds = ds.shuffle(len(texts), seed=seed, reshuffle_each_iteration=True)
    if repeat:
        ds = ds.repeat()
    ds = ds.batch(batch_size, drop_remainder=drop_remainder)
    ds = ds.map(lambda t, y: (encode_texts(tokenizer, t, max_length), y),
                num_parallel_calls=tf.data.AUTOTUNE)
    return ds.prefetch(tf.data.AUTOTUNE)


def finetune_text_classifier(encoder, vocab, train, validation, *, max_length=128,
                             lowercase=True, mode="finetune", epochs=3, batch_size=32,
                             learning_rate=None, dropout=0.1, seed=0, verbose="auto",
                             callbacks=None, steps=None, pooling="encoder",
                             layer_decay=1.0, weight_decay=0.01, warmup_fraction=0.1,
                             reinit_layers=0, extra_validation=None, select=None,
                             select_every=0, head_steps=0):
    """Trains a :class:`TextClassifier` with ``fit``; returns ``(model, metrics)``.

    Args:
        encoder: the text encoder (modified in place when ``mode="finetune"``).
        vocab: the encoder's WordPiece vocabulary (list or file).
        train, validation: :class:`tfssl.data.text.LabeledText` (same label names).
        mode: ``finetune`` (all weights train) or ``linear`` (frozen encoder).
        learning_rate: peak AdamW rate (default 3e-4 finetune, 3e-3 linear), linear
            warm-up over the first ``warmup_fraction`` of steps then linear decay to 0.
        steps: train for exactly this many steps (the training texts repeated as
            needed) instead of ``epochs`` passes: the label-fraction protocol gives every
            fraction the same budget.
        pooling: what the classifier reads (:class:`TextClassifier`).
        layer_decay: layer-wise learning-rate decay (:class:`LayerDecayAdamW`); 1 = off.
        weight_decay: AdamW weight decay (never on biases and layer norms).
        reinit_layers: re-initialise the encoder's top blocks before training
            (:func:`reinit_top_layers`); 0 = off.
        extra_validation: ``{name: LabeledText}`` also scored after training, as
            ``metrics[name + "_accuracy"]``.
        select: a model-selection split (:class:`tfssl.data.text.LabeledText`),
            scored after training as ``metrics["select_accuracy"]``.
        select_every: with ``select`` and ``steps``, also score ``select`` every
            ``select_every`` steps and keep the weights that scored best there (Keras'
            ``EarlyStopping(restore_best_weights=True)``, training never cut short);
            ``metrics["select_step"]`` says which. 0 = keep the last weights.
        head_steps: ``finetune`` mode: first train the classifier alone on the frozen
            encoder for this many steps (the linear probe's rate and schedule), then
            every weight for ``steps`` ("LP-FT": the head no longer starts random, so
            the first updates do not reshape the pretrained features for it). 0 = off.

    Returns:
        ``(model, {"accuracy", "loss", "train_accuracy", "epochs", ...})``.
    """
    from tfssl.text.vocab import make_tokenizer

    if mode not in MODES:
        raise UsageError(f"--mode={mode!r}: expected one of {', '.join(MODES)}")
    if epochs < 1 or batch_size < 1:
        raise UsageError(f"epochs={epochs}, batch_size={batch_size}: expected >= 1")
    if len(train) == 0 or len(validation) == 0:
        raise UsageError("empty training or validation data")
    check_max_length(max_length)
    layer_decay, = check_finetune_settings(
        steps=steps, layer_decays=(layer_decay,), warmup_fraction=warmup_fraction,
        head_steps=head_steps, select_every=select_every, selecting=select is not None)
    lr = DEFAULT_LEARNING_RATE[mode] if learning_rate is None else check_number(
        "learning_rate", learning_rate)
    check_number("weight_decay", weight_decay, strict=False)
    keras.utils.set_random_seed(seed)
    tokenizer = make_tokenizer(vocab, lowercase=lowercase)
    reinit_top_layers(encoder, reinit_layers, seed=seed)
    batch_size = min(batch_size, len(train)) if steps else batch_size
    train_ds = labeled_text_dataset(tokenizer, train.texts, train.labels, max_length,
                                    batch_size, shuffle=True, seed=seed,
                                    repeat=bool(steps), drop_remainder=bool(steps))
    val_ds = labeled_text_dataset(tokenizer, validation.texts, validation.labels,
                                  max_length, batch_size)
    if select_every:  # one Keras epoch per selection point
        fit_args = dict(epochs=int(steps) // select_every, steps_per_epoch=select_every,
                        validation_data=labeled_text_dataset(
                            tokenizer, select.texts, select.labels, max_length,
                            batch_size))
        keep_best = keras.callbacks.EarlyStopping(
            monitor="val_accuracy", mode="max", patience=fit_args["epochs"],
            restore_best_weights=True)
        callbacks = [*(callbacks or []), keep_best]
    elif steps:
        fit_args = dict(epochs=1, steps_per_epoch=int(steps))
    else:
        fit_args = dict(epochs=epochs)
        steps = epochs * int(np.ceil(len(train) / batch_size))
    def compile_model(model, lr, steps, layer_decay):
        warmup = max(1, int(steps * warmup_fraction)) if warmup_fraction else 0
        schedule = keras.optimizers.schedules.PolynomialDecay(
            lr, max(1, steps - warmup), end_learning_rate=0.0)
        if warmup:
            schedule = _Warmup(lr, warmup, schedule)
        optimizer = LayerDecayAdamW(schedule, layer_decay=layer_decay,
                                    num_layers=count_transformer_layers(encoder),
                                    weight_decay=weight_decay)
        optimizer.exclude_from_weight_decay(var_names=list(NO_DECAY))
        model.compile(optimizer=optimizer,
                      loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
                      metrics=[keras.metrics.SparseCategoricalAccuracy(name="accuracy")])
        build_before_fit(model)

    model = TextClassifier(encoder, train.num_classes, dropout=dropout,
                           freeze_encoder=(mode == "linear"), pooling=pooling)
    if head_steps and mode == "finetune":  # linear probe first, then every weight
        trainable = [(layer, layer.trainable) for layer in
                     encoder._flatten_layers(include_self=True, recursive=True)]
        probe = TextClassifier(encoder, train.num_classes, dropout=dropout,
                               freeze_encoder=True, pooling=pooling)
        compile_model(probe, DEFAULT_LEARNING_RATE["linear"], head_steps, 1.0)
        probe.fit(train_ds, epochs=1, steps_per_epoch=int(head_steps), verbose=verbose)
        for layer, flag in trainable:
            layer.trainable = flag
        model.classifier.set_weights(probe.classifier.get_weights())
    compile_model(model, lr, steps, layer_decay)
    history = model.fit(train_ds, verbose=verbose, callbacks=callbacks, **fit_args)
    result = model.evaluate(val_ds, verbose=0, return_dict=True)
    majority = np.bincount(np.asarray(train.labels), minlength=train.num_classes).argmax()
    extra = {}
    if select_every:  # the kept weights' score, as fit logged it: not scored again
        extra["select_step"] = int((keep_best.best_epoch + 1) * select_every)
        extra["select_accuracy"] = float(keep_best.best)
    elif select is not None:
        extra_validation = {**(extra_validation or {}), "select": select}
    for name, data in (extra_validation or {}).items():
        ds = labeled_text_dataset(tokenizer, data.texts, data.labels, max_length,
                                  batch_size)
        extra[f"{name}_accuracy"] = float(
            model.evaluate(ds, verbose=0, return_dict=True)["accuracy"])
    return model, {**extra,
        "accuracy": float(result["accuracy"]),
        "loss": float(result["loss"]),
        "train_accuracy": float(history.history["accuracy"][-1]),
        "majority_class_accuracy": float(np.mean(np.asarray(validation.labels) == majority)),
        "mode": mode,
        "epochs": int(fit_args["epochs"]),
        "steps": int(steps),
        "batch_size": int(batch_size),
        "learning_rate": float(lr),
        "layer_decay": float(layer_decay),
        "reinit_layers": int(reinit_layers),
        "head_steps": int(head_steps) if mode == "finetune" else 0,
        "pooling": pooling,
        "num_train": len(train),
        "num_validation": len(validation),
    }


@keras.saving.register_keras_serializable(package="tfssl")
class _Warmup(keras.optimizers.schedules.LearningRateSchedule):
    """Linear warm-up to ``peak`` over ``warmup_steps``, then ``after(step - warmup)``."""

    def __init__(self, peak, warmup_steps, after):
        self.peak = peak
        self.warmup_steps = warmup_steps
        self.after = after

    def __call__(self, step):
        step = tf.cast(step, tf.float32)
        warm = self.peak * (step + 1.0) / float(self.warmup_steps)
        return tf.where(step < self.warmup_steps, warm,
                        self.after(tf.maximum(step - self.warmup_steps, 0.0)))

    def get_config(self):
        return {"peak": self.peak, "warmup_steps": self.warmup_steps,
                "after": keras.optimizers.schedules.serialize(self.after)}

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        config["after"] = keras.optimizers.schedules.deserialize(config["after"])
        return cls(**config)


def load_run(model_dir):
    """``(run_config, vocab, encoder)`` of a text pretraining run (``tfssl-pretrain``)."""
    import tfssl.encoders.bert  # noqa: F401  (registers the encoder's layers)
    from tfssl.runs import load_run_config
    from tfssl.text.vocab import load_vocabulary
    from tfssl.zoo.card import load_encoder_file

    config, spec = load_run_config(model_dir)
    if spec.modality != "text":
        raise UsageError(f"--model_dir={model_dir}: not a text run (method "
                         f"{spec.name!r} is {spec.modality})")
    vocab = load_vocabulary(os.path.join(model_dir, config["vocab_file"]))
    encoder = load_encoder_file(os.path.join(model_dir, config["encoder_file"]),
                                f"--model_dir={model_dir}")
    return config, vocab, encoder


def finetune_run(model_dir, train, validation, *, mode="finetune", epochs=3,
                 batch_size=32, learning_rate=None, seed=0, scratch_baseline=True,
                 max_length=None, verbose="auto", label_fraction=1.0, steps=None,
                 pooling="encoder", layer_decay=1.0, reinit_layers=0):
    """Fine-tunes (or linearly probes) a pretrained MLM run on labelled text.

    Args:
        model_dir: a ``tfssl-pretrain --method=mlm`` run directory.
        train, validation: ``labeled_text:PATH`` specs, plain paths or
            :class:`tfssl.data.text.LabeledText`; validation labels must appear in
            the training labels.
        scratch_baseline: also train the same architecture from random
            initialisation with the same budget.
        max_length: ids per text (default: the run's ``max_length``).
        label_fraction: train on a class-balanced, seeded fraction of ``train``
            (:func:`tfssl.data.subsets.label_fraction_indices`).
        steps, pooling, layer_decay, reinit_layers: as
            :func:`finetune_text_classifier`.

    Returns:
        ``{"pretrained": metrics, "scratch": metrics (or absent), "label_names": [...],
        "train": spec, "validation": spec}``.
    """
    from tfssl.data.text import LabeledText, load_labeled_text

    if not isinstance(train, LabeledText):
        train_spec = train
        train = load_labeled_text(train)
    else:
        train_spec = "<python>"
    if not isinstance(validation, LabeledText):
        val_spec = validation
        validation = load_labeled_text(validation, label_names=train.label_names)
    else:
        val_spec = "<python>"
    from tfssl.data.subsets import check_fraction, label_fraction_indices
    from tfssl.runs import read_run_metrics

    label_fraction = check_fraction(label_fraction)
    if label_fraction < 1.0:
        train = train.subset(label_fraction_indices(train.labels, label_fraction, seed))
    config, vocab, encoder = load_run(model_dir)
    read_run_metrics(model_dir)  # the results go there: refuse a damaged one before work
    max_length = (config["max_length"] if max_length is None
                  else check_max_length(max_length))
    positions = config.get("positions", max_length)
    if max_length > positions:
        raise UsageError(f"--max_length={max_length} is larger than the encoder's "
                         f"{positions} positions")
    common = dict(max_length=max_length, lowercase=config.get("lowercase", True),
                  mode=mode, epochs=epochs, batch_size=batch_size,
                  learning_rate=learning_rate, seed=seed, verbose=verbose, steps=steps,
                  pooling=pooling, layer_decay=layer_decay, reinit_layers=reinit_layers)
    scratch_encoder = None
    if scratch_baseline:
        keras.utils.set_random_seed(seed)
        scratch_encoder = keras.models.clone_model(encoder)  # fresh initialisation
    _, pretrained = finetune_text_classifier(encoder, vocab, train, validation, **common)
    out = {"pretrained": pretrained, "label_names": train.label_names,
           "train": train_spec, "validation": val_spec, "label_fraction": label_fraction}
    if scratch_encoder is not None:
        _, scratch = finetune_text_classifier(scratch_encoder, vocab, train, validation,
                                              **common)
        out["scratch"] = scratch
    return out


def holdout_split(data, size, seed=0):
    """``(rest, held_out)``: a class-balanced, seeded slice of about ``size`` examples
    held out of ``data`` (a :class:`tfssl.data.text.LabeledText`), e.g. a
    model-selection split carved from a training set."""
    from tfssl.data.subsets import label_fraction_indices

    if not 0 < size < len(data):
        raise UsageError(f"held-out size {size}: expected 0 < size < {len(data)}")
    held = label_fraction_indices(data.labels, size / len(data), seed=seed + 7919)
    rest = np.setdiff1d(np.arange(len(data)), held)
    return data.subset(rest), data.subset(held)


def copy_encoder(encoder, fresh=False, seed=0):
    """A copy of ``encoder``: same weights, or (``fresh``) a new random initialisation."""
    keras.utils.set_random_seed(seed)
    copy = keras.models.clone_model(encoder)
    if not fresh:
        copy.set_weights(encoder.get_weights())
    return copy


def select_and_finetune(encoder, vocab, train, select, evaluate, learning_rates,
                        fresh=False, seed=0, layer_decays=(1.0,), **kwargs):
    """Fine-tunes a copy of ``encoder`` at each learning rate, keeps the one with the
    best ``select`` accuracy and reports its accuracy on ``evaluate`` (a split never
    used for the choice).

    Args:
        encoder: the text encoder (not modified: each rate trains a copy).
        fresh: train from a random initialisation of the same architecture instead.
        layer_decays: layer-wise decays tried with every rate (the grid is their
            product; on equal scores the smaller rate and the larger decay win).
        **kwargs: :func:`finetune_text_classifier` arguments (``steps``, ``mode`` ...).

    Returns:
        ``{"accuracy", "select_accuracy", "learning_rate", "grid": [...]}``; ``grid``
        holds ``{"learning_rate", "select_accuracy", "accuracy"}`` of every rate.
    """
    learning_rates = [float(lr) for lr in learning_rates]
    if not learning_rates or min(learning_rates) <= 0:
        raise UsageError(f"learning rates {learning_rates}: expected positive values")
    layer_decays = check_finetune_settings(layer_decays=layer_decays)  # before any run
    grid = []
    for decay in layer_decays:
        for lr in learning_rates:
            _, m = finetune_text_classifier(
                copy_encoder(encoder, fresh=fresh, seed=seed), vocab, train, evaluate,
                learning_rate=lr, layer_decay=decay, seed=seed, select=select, **kwargs)
            grid.append({"learning_rate": lr, "layer_decay": decay,
                         "select_accuracy": m["select_accuracy"], "accuracy": m["accuracy"],
                         "train_accuracy": m["train_accuracy"],
                         **({"select_step": m["select_step"]} if "select_step" in m
                            else {})})
    best = max(grid, key=lambda g: (g["select_accuracy"], -g["learning_rate"],
                                    g["layer_decay"]))
    return {"accuracy": best["accuracy"], "select_accuracy": best["select_accuracy"],
            "learning_rate": best["learning_rate"], "layer_decay": best["layer_decay"],
            "select_step": best.get("select_step"), "num_train": len(train),
            "grid": grid}


def transfer_curve(encoder, vocab, train, evaluate, fractions=(0.01, 0.1, 1.0),
                   learning_rates=(1e-4, 3e-4, 1e-3), select_size=872, seed=0,
                   scratch=True, **kwargs):
    """Pretrained vs from-scratch accuracy across label fractions, each side with its
    learning rate chosen on a held-out selection split.

    ``select_size`` class-balanced examples (seeded) are held out of ``train`` for the
    choice of learning rate; each fraction trains on a class-balanced, seeded, nested
    subset of the rest (:func:`tfssl.data.subsets.label_fraction_indices`); accuracy is
    reported on ``evaluate``.

    Returns:
        ``{fraction: {"pretrained": ..., "scratch": ...}}`` of
        :func:`select_and_finetune` results.
    """
    from tfssl.data.subsets import label_fraction_indices, parse_fractions

    rest, select = holdout_split(train, select_size, seed=seed)
    out = {}
    for fraction in parse_fractions(fractions):
        part = rest if fraction == 1.0 else rest.subset(
            label_fraction_indices(rest.labels, fraction, seed))
        row = {"pretrained": select_and_finetune(
            encoder, vocab, part, select, evaluate, learning_rates, seed=seed, **kwargs)}
        if scratch:
            row["scratch"] = select_and_finetune(
                encoder, vocab, part, select, evaluate, learning_rates, fresh=True,
                seed=seed, **kwargs)
        out[fraction] = row
    return out
