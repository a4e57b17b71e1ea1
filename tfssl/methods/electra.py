"""ELECTRA replaced-token detection (Clark et al. 2020) as a ``keras.Model``.

A small generator (the encoder's own embeddings, ``generator_layers`` transformer blocks
shaped like the encoder's, keras-hub's ``MaskedLMHead`` tied to the token embedding)
learns masked-LM on the rows that :class:`tfssl.text.MLMMasker` masks. A token is sampled
from its prediction at every masked slot; the encoder, as discriminator, reads the row
with those samples in place and predicts for *every* token whether it was replaced
(a sampled token equal to the original counts as original). The discriminator so learns
from all tokens rather than the 15% that masked-LM predicts; the encoder is what a run
exports and fine-tunes.

Loss: generator masked cross-entropy (mean over the real mask slots) plus
``discriminator_weight`` times the discriminator's binary cross-entropy (mean over the
non-padding tokens), in float32. Both means are taken over the *global* batch: each
replica divides its sums by all-reduced counts, so that two replicas give the loss and
gradients of one device, also with uneven slot or token counts.

Sampling is batch-split invariant: one row of uniforms per example of the global batch
is drawn from a stateless seed ``(seed, step)``, each replica takes the rows of its
examples (:func:`tfssl.distribute.replicas.gather_offset`) and samples by inverting the
generator's cumulative distribution, so that N replicas draw the tokens one device
draws. Special tokens (``[PAD] [UNK] [CLS] [SEP] [MASK]``) are never sampled.
"""

import keras
import tensorflow as tf

from tfssl.distribute import replicas
from tfssl.methods.base import Method
from tfssl.methods.masked_lm import Perplexity, head_activation, masked_stats, tied_mlm_head
from tfssl.methods.registry import register
from tfssl.text.vocab import SPECIAL_TOKENS

__all__ = ["Electra"]


def scatter_slots(token_ids, positions, values, weights):
    """``(at, rows)``: ``at[b, t]`` True where a real slot of row ``b`` points at ``t``,
    and ``rows`` = ``token_ids`` with ``values`` written at those tokens.

    Dense one-hot arithmetic (static shapes, XLA-friendly); real slots of a row point at
    distinct tokens, unused slots (weight 0) write nothing.
    """
    length = tf.shape(token_ids)[1]
    onehot = tf.one_hot(positions, length, dtype=tf.float32)  # [B, S, L]
    onehot = onehot * tf.cast(weights > 0, tf.float32)[..., None]
    at = tf.reduce_sum(onehot, axis=1) > 0
    written = tf.einsum("bsl,bs->bl", onehot, tf.cast(values, tf.float32))
    rows = tf.where(at, tf.cast(tf.round(written), token_ids.dtype), token_ids)
    return at, rows


@register("electra", modality="text", inputs="masked_tokens", defaults=dict(
    mask_rate=0.15, pre_norm=True, generator_layers=1, discriminator_weight=50.0))
@keras.saving.register_keras_serializable(package="tfssl")
class Electra(Method):
    """ELECTRA pretraining of a text encoder: replaced-token detection.

    Args:
        encoder: a functional text encoder from :func:`tfssl.encoders.bert.bert` (layers
            ``token_embedding``, ``padding_mask``, ``embeddings_dropout``,
            ``transformer_layer_0``, ``final_layer_norm`` when pre-norm; output
            ``sequence_output``): the discriminator.
        generator_layers: transformer blocks of the generator, each configured as the
            encoder's first block (ELECTRA's generator is a fraction of the
            discriminator's size; it shares the token and position embeddings).
        discriminator_weight: weight of the discriminator loss (the paper's lambda, 50).
        temperature: sampling temperature of the generator's distribution.
        seed: seed of the sampling (with the optimizer step).
        intermediate_activation, layer_norm_epsilon: of the generator's masked-LM head.

    Metrics: ``loss``, ``masked_accuracy`` and ``perplexity`` (the generator on the mask
    slots), ``discriminator_loss``, ``replaced_accuracy`` (the discriminator over all
    non-padding tokens) and ``replaced_fraction`` (tokens that differ from the original).

    References:
        Clark et al., "ELECTRA: Pre-training Text Encoders as Discriminators Rather Than
        Generators", ICLR 2020.
    """

    # replaced_recall: the share of replaced tokens flagged (logit > 0); it leaves 0 when
    # the discriminator leaves its prior ("all original"), which replaced_accuracy, at
    # 1 - replaced_fraction on that plateau, does not show.
    metric_names = ("masked_accuracy", "perplexity", "discriminator_loss",
                    "replaced_accuracy", "replaced_fraction", "replaced_recall")
    loss_reduction = "global"  # generator and discriminator means over the global batch

    def __init__(self, encoder, generator_layers=1, discriminator_weight=50.0,
                 temperature=1.0, seed=0, intermediate_activation=None,
                 layer_norm_epsilon=1e-12, **kwargs):
        import keras_hub

        super().__init__(encoder, **kwargs)
        if int(generator_layers) < 1:
            raise ValueError(f"generator_layers={generator_layers}: expected at least 1")
        if not temperature > 0:
            raise ValueError(f"temperature={temperature}: expected > 0")
        self.generator_layers = int(generator_layers)
        self.discriminator_weight = float(discriminator_weight)
        self.temperature = float(temperature)
        self.seed = int(seed)
        self.intermediate_activation = head_activation(intermediate_activation)
        self.layer_norm_epsilon = layer_norm_epsilon
        self.vocab_size = encoder.get_layer("token_embedding").input_dim
        width = encoder.get_layer("token_embedding").output_dim
        # The encoder's embedding path (shared weights) with its padding mask.
        self.embed = keras.Model(
            encoder.inputs, [encoder.get_layer("embeddings_dropout").output,
                             encoder.get_layer("padding_mask").output],
            name="shared_embeddings")
        block = encoder.get_layer("transformer_layer_0").get_config()
        self.generator_blocks = []
        for i in range(self.generator_layers):
            layer = keras_hub.layers.TransformerEncoder.from_config(
                {**block, "name": f"generator_layer_{i}"})
            layer.build((None, None, width))
            self.generator_blocks.append(layer)
        self.generator_norm = None
        if block.get("normalize_first"):
            self.generator_norm = keras.layers.LayerNormalization(
                epsilon=layer_norm_epsilon, name="generator_final_layer_norm")
            self.generator_norm.build((None, None, width))
        self.generator_head = tied_mlm_head(encoder, self.intermediate_activation,
                                            layer_norm_epsilon, name="generator_head")
        init = keras.initializers.TruncatedNormal(stddev=0.02)
        self.discriminator_dense = keras.layers.Dense(
            width, activation=self.intermediate_activation, kernel_initializer=init,
            name="discriminator_dense")
        self.discriminator_dense.build((None, None, width))
        self.discriminator_out = keras.layers.Dense(
            1, kernel_initializer=init, dtype="float32", name="discriminator_logits")
        self.discriminator_out.build((None, None, width))
        self.built = True  # every weight exists now (BackupAndRestore, loading need it)

    def make_metric(self, name):
        return Perplexity(name=name) if name == "perplexity" else super().make_metric(name)

    @classmethod
    def from_settings(cls, encoder, settings):
        return cls(encoder, generator_layers=settings["generator_layers"],
                   discriminator_weight=settings["discriminator_weight"],
                   seed=settings["seed"])

    # --- the two networks ---------------------------------------------------------
    def generator_logits(self, inputs, training=None):
        """``{"token_ids", "mask_positions"}`` -> float32 logits ``[B, slots, vocab]``."""
        x, padding_mask = self.embed(inputs["token_ids"], training=training)
        for block in self.generator_blocks:
            x = block(x, padding_mask=padding_mask, training=training)
        if self.generator_norm is not None:
            x = self.generator_norm(x)
        logits = self.generator_head(x, mask_positions=inputs["mask_positions"])
        return tf.cast(logits, tf.float32)

    def discriminator_logits(self, token_ids, training=None):
        """``[B, L]`` ids -> float32 replaced-token logits ``[B, L]``."""
        h = self.encoder(token_ids, training=training)["sequence_output"]
        return tf.cast(self.discriminator_out(self.discriminator_dense(h))[..., 0],
                       tf.float32)

    def call(self, inputs, training=None):
        """The generator's masked-LM logits (as :class:`MaskedLM`'s ``call``)."""
        return self.generator_logits(inputs, training=training)

    def sample(self, logits, training):
        """One token per slot from ``softmax(logits / temperature)``, special tokens
        excluded, by inverse CDF with this example's row of the global uniforms."""
        n = tf.shape(logits)[0]
        total = tf.cast(replicas.all_reduce_sum(tf.cast(n, tf.float32)), tf.int32)
        step = self.optimizer.iterations if (training and self.optimizer is not None) \
            else tf.constant(-1, tf.int64)
        seed = tf.stack([tf.constant(self.seed, tf.int64), tf.cast(step, tf.int64)])
        uniforms = tf.random.stateless_uniform(tf.stack([total, tf.shape(logits)[1]]),
                                               seed, dtype=tf.float32)
        start = replicas.gather_offset(n)
        u = uniforms[start:start + n]
        special = tf.range(self.vocab_size) < len(SPECIAL_TOKENS)
        scaled = tf.where(special, -1e9, tf.stop_gradient(logits) / self.temperature)
        cdf = tf.cumsum(tf.nn.softmax(scaled, axis=-1), axis=-1)
        below = tf.cast(cdf < u[..., None] * cdf[..., -1:], tf.int32)
        token = tf.reduce_sum(below, axis=-1)
        return tf.clip_by_value(token, len(SPECIAL_TOKENS), self.vocab_size - 1)

    # --- loss ----------------------------------------------------------------------
    def compute_loss_and_logs(self, data, training):
        x, y, w = keras.utils.unpack_x_y_sample_weight(data)
        token_ids = tf.cast(x["token_ids"], tf.int32)
        positions = tf.cast(x["mask_positions"], tf.int32)
        w = tf.ones_like(y, tf.float32) if w is None else tf.cast(w, tf.float32)
        logits = self.generator_logits(x, training=training)
        ce_sum, slots, correct = masked_stats(y, logits, w)
        sampled = self.sample(logits, training)
        _, original = scatter_slots(token_ids, positions, y, w)
        _, corrupted = scatter_slots(token_ids, positions, sampled, w)
        real = tf.cast(original != 0, tf.float32)
        replaced = tf.cast(corrupted != original, tf.float32) * real
        d_logits = self.discriminator_logits(corrupted, training=training)
        bce = tf.nn.sigmoid_cross_entropy_with_logits(labels=replaced, logits=d_logits)
        bce_sum, tokens = tf.reduce_sum(bce * real), tf.reduce_sum(real)
        flagged = tf.cast(d_logits > 0, tf.float32)
        hit = tf.cast(tf.equal(flagged, replaced), tf.float32)
        num_replaced = tf.reduce_sum(replaced)
        # This replica's shares of the two global means, times the replica count (the
        # base divides by it).
        r = tf.cast(replicas.num_replicas(), tf.float32)
        gen = tf.math.divide_no_nan(ce_sum * r, replicas.all_reduce_sum(slots))
        disc = tf.math.divide_no_nan(bce_sum * r, replicas.all_reduce_sum(tokens))
        loss = gen + self.discriminator_weight * disc
        mean_ce = tf.math.divide_no_nan(ce_sum, slots)
        return loss, {
            "masked_accuracy": (tf.math.divide_no_nan(correct, slots), slots),
            "perplexity": (mean_ce, slots),
            "discriminator_loss": (tf.math.divide_no_nan(bce_sum, tokens), tokens),
            "replaced_accuracy": (tf.math.divide_no_nan(tf.reduce_sum(hit * real), tokens),
                                  tokens),
            "replaced_fraction": (tf.math.divide_no_nan(num_replaced, tokens), tokens),
            "replaced_recall": (tf.math.divide_no_nan(tf.reduce_sum(flagged * replaced),
                                                      num_replaced), num_replaced),
        }

    # --- serialisation -------------------------------------------------------------
    def get_config(self):
        config = super().get_config()
        config.update({
            "generator_layers": self.generator_layers,
            "discriminator_weight": self.discriminator_weight,
            "temperature": self.temperature,
            "seed": self.seed,
            "intermediate_activation": keras.saving.serialize_keras_object(
                self.intermediate_activation),
            "layer_norm_epsilon": self.layer_norm_epsilon,
        })
        return config
