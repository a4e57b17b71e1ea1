"""BERT text encoder built from keras-hub layers, as a functional ``keras.Model``.

``bert(...)`` maps ``token_ids`` (``[batch, length]`` int32, ``[PAD]`` = 0) to
``{"sequence_output": [batch, length, hidden], "pooled_output": [batch, hidden]}``.
The padding mask is derived from the ids inside the model, so the encoder needs nothing
else and exports alone.

Layers: keras-hub ``ReversibleEmbedding`` (named ``token_embedding``, so that a masked-LM
head can tie its output projection to it) + ``PositionEmbedding``, layer norm, dropout,
``num_layers`` keras-hub ``TransformerEncoder`` blocks (post-norm, GELU, as in BERT).

Pooling: ``pooling="mean"`` (default) averages the non-padding positions of the last
layer; ``pooling="cls"`` is BERT's tanh dense layer on ``[CLS]``. Masked-LM pretraining
alone (no next-sentence objective) never trains that dense layer, so the mean is the
better frozen feature; both fine-tune.

Presets (Turc et al. 2019 sizes): ``bert_tiny`` (L2 H128 A2), ``bert_mini`` (L4 H256
A4), ``bert_small`` (L4 H512 A8), ``bert_base`` (L12 H768 A12); intermediate width
``4 * hidden``.
"""

import math

import keras
import tensorflow as tf

from tfssl.errors import UsageError

__all__ = [
    "BERT_PRESETS",
    "bert",
    "bert_tiny",
    "bert_mini",
    "bert_small",
    "bert_base",
    "get_text_encoder",
    "gelu_approximate",
    "PaddingMask",
    "MaskedMeanPooling",
    "TokenAt",
]

BERT_PRESETS = {
    "bert_tiny": dict(num_layers=2, hidden_dim=128, num_heads=2),
    "bert_mini": dict(num_layers=4, hidden_dim=256, num_heads=4),
    "bert_small": dict(num_layers=4, hidden_dim=512, num_heads=8),
    "bert_base": dict(num_layers=12, hidden_dim=768, num_heads=12),
}
#: Default number of learned positions (the longest ``max_length`` an encoder accepts).
DEFAULT_POSITIONS = 512


# 0.5 * (1 + tanh(u)) == sigmoid(2u): GELU's tanh form is x * sigmoid(x * (A + B x^2)).
_GELU_A = 2.0 * math.sqrt(2.0 / math.pi)
_GELU_B = _GELU_A * 0.044715


@keras.saving.register_keras_serializable(package="tfssl")
def gelu_approximate(x):
    """GELU with the tanh approximation, as in BERT (cheaper than ``erf`` on CPU).

    ``0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3)))``, the function of
    ``keras.activations.gelu(x, approximate=True)``, computed as
    ``x * sigmoid(x (A + B x^2))`` with a hand-written gradient: without XLA, half the
    element-wise passes of the autodiff of the tanh form (the feed-forward activations
    are the largest tensors of a BERT step).
    """
    if keras.backend.backend() != "tensorflow":
        return keras.activations.gelu(x, approximate=True)
    return _gelu_tanh(tf.convert_to_tensor(x))


@tf.custom_gradient
def _gelu_tanh(x):
    a, b = tf.constant(_GELU_A, x.dtype), tf.constant(_GELU_B, x.dtype)
    s = tf.sigmoid(x * (a + b * tf.square(x)))

    def grad(dy):
        slope = a + (3.0 * b) * tf.square(x)
        return dy * (s + x * (s * (1.0 - s)) * slope)

    return x * s, grad


@keras.saving.register_keras_serializable(package="tfssl")
class PaddingMask(keras.layers.Layer):
    """``token_ids != pad_id`` as a bool mask."""

    def __init__(self, pad_id=0, **kwargs):
        super().__init__(**kwargs)
        self.pad_id = pad_id

    def call(self, token_ids):
        return keras.ops.not_equal(token_ids, self.pad_id)

    def compute_output_shape(self, input_shape):
        return input_shape

    def compute_output_spec(self, token_ids):
        return keras.KerasTensor(token_ids.shape, dtype="bool")

    def get_config(self):
        return {**super().get_config(), "pad_id": self.pad_id}


@keras.saving.register_keras_serializable(package="tfssl")
class MaskedMeanPooling(keras.layers.Layer):
    """Mean over the positions where ``mask`` is true: ``[B, T, H], [B, T] -> [B, H]``."""

    def call(self, inputs, padding_mask):
        m = keras.ops.cast(keras.ops.expand_dims(padding_mask, -1), inputs.dtype)
        total = keras.ops.sum(inputs * m, axis=1)
        count = keras.ops.maximum(keras.ops.sum(m, axis=1), keras.ops.cast(1, inputs.dtype))
        return total / count

    def compute_output_shape(self, inputs_shape, padding_mask_shape=None):
        return (inputs_shape[0], inputs_shape[-1])


@keras.saving.register_keras_serializable(package="tfssl")
class TokenAt(keras.layers.Layer):
    """``x[:, index, :]``: the features of one position (``[CLS]`` by default)."""

    def __init__(self, index=0, **kwargs):
        super().__init__(**kwargs)
        self.index = index

    def call(self, inputs):
        return inputs[:, self.index, :]

    def compute_output_shape(self, input_shape):
        return (input_shape[0], input_shape[-1])

    def get_config(self):
        return {**super().get_config(), "index": self.index}


def bert(vocab_size, num_layers=2, hidden_dim=128, num_heads=2, intermediate_dim=None,
         max_length=DEFAULT_POSITIONS, dropout=0.1, pooling="mean",
         layer_norm_epsilon=1e-12, normalize_first=False, name="bert"):
    """A BERT encoder.

    Args:
        vocab_size: number of token ids.
        num_layers, hidden_dim, num_heads: transformer size; ``hidden_dim`` must be
            divisible by ``num_heads``.
        intermediate_dim: feed-forward width (default ``4 * hidden_dim``).
        max_length: learned positions, i.e. the longest input the encoder accepts.
        dropout: dropout rate in embeddings and transformer blocks.
        pooling: ``"mean"`` (masked mean of the last layer) or ``"cls"`` (tanh dense on
            the ``[CLS]`` position, as in BERT).
        normalize_first: pre-layer-norm blocks (Xiong et al. 2020) with a final layer
            norm, instead of BERT's post-norm.

    Returns:
        a functional ``keras.Model`` with input ``token_ids`` and outputs
        ``{"sequence_output", "pooled_output"}``. Its token embedding is the layer named
        ``token_embedding``.

    Example:
        >>> enc = bert(vocab_size=1000, num_layers=2, hidden_dim=64, num_heads=2)
        >>> out = enc(np.ones((2, 16), "int32"))
        >>> out["pooled_output"].shape
        TensorShape([2, 64])
    """
    import keras_hub

    if vocab_size is None or vocab_size < 2:
        raise UsageError(f"vocab_size={vocab_size}: expected at least 2")
    if hidden_dim % num_heads:
        raise UsageError(f"hidden_dim={hidden_dim} is not divisible by num_heads={num_heads}")
    if pooling not in ("mean", "cls"):
        raise UsageError(f"pooling={pooling!r}: expected 'mean' or 'cls'")
    intermediate_dim = intermediate_dim or 4 * hidden_dim
    init = keras.initializers.TruncatedNormal(stddev=0.02)

    token_ids = keras.Input(shape=(None,), dtype="int32", name="token_ids")
    padding_mask = PaddingMask(name="padding_mask")(token_ids)
    x = keras_hub.layers.ReversibleEmbedding(
        vocab_size, hidden_dim, embeddings_initializer=init, name="token_embedding",
        reverse_dtype="float32",  # tied MLM logits in float32 under any dtype policy
    )(token_ids)
    positions = keras_hub.layers.PositionEmbedding(
        sequence_length=max_length, initializer=init, name="position_embedding")(x)
    x = keras.layers.Add(name="embeddings_add")([x, positions])
    x = keras.layers.LayerNormalization(epsilon=layer_norm_epsilon,
                                        name="embeddings_layer_norm")(x)
    x = keras.layers.Dropout(dropout, name="embeddings_dropout")(x)
    for i in range(num_layers):
        x = keras_hub.layers.TransformerEncoder(
            intermediate_dim=intermediate_dim,
            num_heads=num_heads,
            dropout=dropout,
            activation=gelu_approximate,
            layer_norm_epsilon=layer_norm_epsilon,
            kernel_initializer=init,
            normalize_first=normalize_first,
            name=f"transformer_layer_{i}",
        )(x, padding_mask=padding_mask)
    if normalize_first:
        x = keras.layers.LayerNormalization(epsilon=layer_norm_epsilon,
                                            name="final_layer_norm")(x)
    sequence_output = x
    if pooling == "mean":
        pooled = MaskedMeanPooling(name="pooled_output")(sequence_output, padding_mask)
    else:
        cls = TokenAt(0, name="cls_token")(sequence_output)
        pooled = keras.layers.Dense(hidden_dim, activation="tanh", kernel_initializer=init,
                                    name="pooled_dense")(cls)
    return keras.Model(token_ids, {"sequence_output": sequence_output,
                                   "pooled_output": pooled}, name=name)


def _preset(name):
    def build(vocab_size, max_length=DEFAULT_POSITIONS, dropout=0.1, pooling="mean", **kw):
        return bert(vocab_size, max_length=max_length, dropout=dropout, pooling=pooling,
                    name=name, **{**BERT_PRESETS[name], **kw})

    build.__name__ = name
    p = BERT_PRESETS[name]
    build.__doc__ = (f"BERT preset L{p['num_layers']} H{p['hidden_dim']} A{p['num_heads']}; "
                     "keyword arguments as in :func:`bert`.")
    return build


bert_tiny = _preset("bert_tiny")
bert_mini = _preset("bert_mini")
bert_small = _preset("bert_small")
bert_base = _preset("bert_base")


def get_text_encoder(name, vocab_size, **kwargs):
    """A preset by name (``bert_tiny | bert_mini | bert_small | bert_base``)."""
    if name not in BERT_PRESETS:
        raise UsageError(
            f"unknown text encoder {name!r}; expected one of {', '.join(BERT_PRESETS)}")
    return globals()[name](vocab_size, **kwargs)
