"""BERT masked language modelling (Devlin et al. 2019) as a ``keras.Model``.

``MaskedLM(encoder)`` holds a text encoder (``tfssl.encoders.bert``) and keras-hub's
``MaskedLMHead`` whose output projection is tied to the encoder's ``token_embedding``.
It trains on the ``(x, y, sample_weight)`` triples made by
:class:`tfssl.text.MLMMasker`: ``x = {"token_ids", "mask_positions"}``, ``y`` the
original ids at the mask slots, ``sample_weight`` 1 on real slots and 0 on padding
slots.

Loss: cross-entropy over the real mask slots divided by their number, in float32 (also
under a ``mixed_bfloat16`` policy). Under ``tf.distribute`` each replica divides its sum
by the slot count of the *global* batch (an all-reduce of the counts), which equals the
Keras convention (per-replica mean divided by ``num_replicas_in_sync``) when the
replicas hold equally many slots and keeps the gradient exactly that of one device when
they do not.
"""

import keras
import tensorflow as tf

from tfssl.distribute import replicas
from tfssl.methods.base import Method
from tfssl.methods.registry import register

__all__ = ["MaskedLM", "Perplexity", "masked_lm_from_encoder_name", "masked_stats"]


def masked_stats(y, logits, sample_weight):
    """Sums over this replica's mask slots: ``(cross-entropy, real slots, correct
    top-1 predictions)``; ``sample_weight`` 0 marks unused slots (None: all real)."""
    y = tf.cast(y, tf.int32)
    if sample_weight is None:
        sample_weight = tf.ones_like(y, tf.float32)
    w = tf.cast(sample_weight, tf.float32)
    ce = tf.nn.sparse_softmax_cross_entropy_with_logits(labels=y, logits=logits)
    correct = tf.cast(tf.equal(tf.argmax(logits, -1, output_type=tf.int32), y),
                      tf.float32)
    return tf.reduce_sum(ce * w), tf.reduce_sum(w), tf.reduce_sum(correct * w)


def head_activation(activation):
    """A head's activation from an argument or a config: None is BERT's GELU (tanh
    approximation), a string a Keras activation, a dict a serialised function."""
    from tfssl.encoders.bert import gelu_approximate

    if activation is None:
        return gelu_approximate
    if callable(activation):
        return activation
    if isinstance(activation, dict):
        return keras.saving.deserialize_keras_object(activation)
    return keras.activations.get(activation)


def tied_mlm_head(encoder, intermediate_activation, layer_norm_epsilon, name="mlm_head"):
    """keras-hub's ``MaskedLMHead``, built, its output projection tied to the encoder's
    ``token_embedding``; float32, so that the logits are float32 under any policy (the
    tied embedding's reverse projection too: :func:`tfssl.encoders.bert.bert` sets its
    ``reverse_dtype``)."""
    import keras_hub

    token_embedding = encoder.get_layer("token_embedding")
    head = keras_hub.layers.MaskedLMHead(
        token_embedding=token_embedding,
        intermediate_activation=intermediate_activation,
        layer_norm_epsilon=layer_norm_epsilon,
        kernel_initializer=keras.initializers.TruncatedNormal(stddev=0.02),
        dtype="float32", name=name)
    head.build((None, None, token_embedding.output_dim))
    return head


@keras.saving.register_keras_serializable(package="tfssl")
class Perplexity(keras.metrics.Mean):
    """``exp`` of the running (weighted) mean of per-token cross-entropy."""

    def result(self):
        return tf.exp(super().result())


# pre_norm: pre-layer-norm blocks. Measured on WikiText-2 (bert_tiny, 64-token rows,
# batch 32, AdamW 2e-3, 600 steps): post-norm stayed on the unigram plateau (masked
# accuracy 0.046 = the most-frequent token at 200, 400 and 600 steps), pre-norm left it
# (0.076 at 400, 0.080 at 600 steps). A CPU budget is a few hundred steps.
@register("mlm", modality="text", inputs="masked_tokens",
          defaults=dict(mask_rate=0.15, pre_norm=True))
@keras.saving.register_keras_serializable(package="tfssl")
class MaskedLM(Method):
    """Masked-LM pretraining of a text encoder.

    Args:
        encoder: a functional text encoder with a layer named ``token_embedding``
            (keras-hub ``ReversibleEmbedding``) and output ``sequence_output``.
        intermediate_activation: activation of the head's dense layer (default: GELU,
            tanh approximation, as in BERT).
        layer_norm_epsilon: epsilon of the head's layer norm.

    Metrics: ``loss``, ``masked_accuracy`` (top-1 over real mask slots), ``perplexity``
    (``exp`` of the mean masked cross-entropy).

    Example:
        >>> enc = tfssl.encoders.bert_tiny(vocab_size=len(vocab), max_length=128)
        >>> mlm = tfssl.methods.MaskedLM(enc)
        >>> mlm.compile(optimizer=keras.optimizers.AdamW(1e-3))
        >>> mlm.fit(masked_dataset, epochs=3)

    References:
        Devlin et al., "BERT: Pre-training of Deep Bidirectional Transformers for
        Language Understanding", NAACL 2019.
    """

    def __init__(self, encoder, intermediate_activation=None, layer_norm_epsilon=1e-12,
                 **kwargs):
        super().__init__(encoder, **kwargs)
        self.intermediate_activation = head_activation(intermediate_activation)
        self.layer_norm_epsilon = layer_norm_epsilon
        self.head = tied_mlm_head(encoder, self.intermediate_activation, layer_norm_epsilon)
        self.built = True  # every weight exists now (BackupAndRestore, loading need it)

    metric_names = ("masked_accuracy", "perplexity")
    loss_reduction = "global"  # normalised by the global count of masked tokens

    def make_metric(self, name):
        return Perplexity(name=name) if name == "perplexity" else super().make_metric(name)

    @classmethod
    def from_settings(cls, encoder, settings):
        return cls(encoder)

    def call(self, inputs, training=None):
        """``{"token_ids", "mask_positions"}`` -> float32 logits ``[B, slots, vocab]``."""
        features = self.encoder(inputs["token_ids"], training=training)
        logits = self.head(features["sequence_output"],
                           mask_positions=inputs["mask_positions"])
        return tf.cast(logits, tf.float32)

    # --- loss ----------------------------------------------------------------------
    def compute_masked_lm_loss(self, x, y, sample_weight=None, training=False):
        """Mean masked cross-entropy of a batch (single replica), for tests and tools."""
        logits = self(x, training=training)
        ce_sum, count, _ = masked_stats(y, logits, sample_weight)
        return tf.math.divide_no_nan(ce_sum, count)

    def compute_loss_and_logs(self, data, training):
        x, y, sample_weight = keras.utils.unpack_x_y_sample_weight(data)
        logits = self(x, training=training)
        ce_sum, count, correct = masked_stats(y, logits, sample_weight)
        # This replica's share of the global mean, times the replica count (the base
        # divides by it): exact also when replicas hold different numbers of slots.
        global_count = replicas.all_reduce_sum(count)
        loss = tf.math.divide_no_nan(ce_sum * replicas.num_replicas(), global_count)
        mean_ce = tf.math.divide_no_nan(ce_sum, count)
        return loss, {"loss": (mean_ce, count),
                      "masked_accuracy": (tf.math.divide_no_nan(correct, count), count),
                      "perplexity": (mean_ce, count)}

    # --- serialisation -------------------------------------------------------------
    def get_config(self):
        config = super().get_config()
        config.update({
            "intermediate_activation": keras.saving.serialize_keras_object(
                self.intermediate_activation),
            "layer_norm_epsilon": self.layer_norm_epsilon,
        })
        return config


def masked_lm_from_encoder_name(name, vocab_size, max_length=512, dropout=0.1, **kwargs):
    """``MaskedLM`` around a preset encoder (``bert_tiny`` ...)."""
    from tfssl.encoders.bert import get_text_encoder

    return MaskedLM(get_text_encoder(name, vocab_size, max_length=max_length,
                                     dropout=dropout), **kwargs)
