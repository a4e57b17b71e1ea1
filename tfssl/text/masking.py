"""Dynamic BERT masking inside ``tf.data`` with keras-hub's ``MaskedLMMaskGenerator``.

Each batch gets fresh masks (so every epoch sees new ones): ``mask_rate`` of the
eligible tokens (never ``[PAD] [UNK] [CLS] [SEP] [MASK]``) are selected, of those 80%
become ``[MASK]``, 10% a random word piece and 10% stay unchanged. The selections live
in a fixed number of slots per row (``mask_positions``, ``mask_ids``, ``mask_weights``
with zero weight on unused slots) so that the model sees static shapes.
"""

import math

import numpy as np

from tfssl.errors import UsageError
from tfssl.text.vocab import SPECIAL_TOKENS, special_token_ids

__all__ = ["MLMMasker", "num_mask_slots", "continuation_flags"]

_IDS = special_token_ids()


def num_mask_slots(max_length, mask_rate):
    """Slots per row: ``ceil(mask_rate * (max_length - 2))``, the most ever selected."""
    return max(1, int(math.ceil(mask_rate * (max_length - 2))))


def continuation_flags(vocab, suffix_indicator="##"):
    """Bool array over the vocabulary: True for pieces that continue a word (``##x``)."""
    return np.array([t.startswith(suffix_indicator) for t in vocab], bool)


class MLMMasker:
    """Callable for ``dataset.batch(...).map(masker)``.

    Args:
        vocab_size: vocabulary size (random replacements are drawn from the non-special
            pieces ``[5, vocab_size)``).
        max_length: row length; sets the number of mask slots.
        mask_rate: fraction of eligible tokens selected for prediction.
        mask_token_rate, random_token_rate: the 80 / 10 (/ 10 kept) split.
        whole_word: select whole words (a piece and its ``##`` continuations) instead of
            single pieces; needs ``vocab``.
        vocab: the vocabulary list (whole-word masking only).

    Called on a ``[batch, max_length]`` int32 tensor, returns
    ``({"token_ids", "mask_positions"}, mask_ids, mask_weights)`` - the
    ``(x, y, sample_weight)`` triple that :class:`tfssl.methods.MaskedLM` trains on.
    """

    def __init__(self, vocab_size, max_length, mask_rate=0.15, mask_token_rate=0.8,
                 random_token_rate=0.1, whole_word=False, vocab=None):
        import keras_hub

        if not 0.0 < mask_rate < 1.0:
            raise UsageError(f"--mask_rate={mask_rate}: expected 0 < rate < 1")
        if vocab_size <= len(SPECIAL_TOKENS):
            raise UsageError(f"vocab_size={vocab_size}: no room after the special tokens")
        if whole_word and vocab is None:
            raise ValueError("whole_word=True needs the vocabulary")
        self.vocab_size = int(vocab_size)
        self.max_length = int(max_length)
        self.mask_rate = float(mask_rate)
        self.whole_word = bool(whole_word)
        self.num_slots = num_mask_slots(max_length, mask_rate)
        if whole_word:
            # A selected word covers one or more pieces: room for twice as many; pieces
            # selected beyond the slots are restored (never corrupted but unpredicted).
            self.num_slots = min(2 * self.num_slots, max(1, self.max_length - 2))
        self.generator = keras_hub.layers.MaskedLMMaskGenerator(
            vocabulary_size=self.vocab_size,
            mask_selection_rate=self.mask_rate,
            mask_token_id=_IDS["mask"],
            mask_selection_length=None if whole_word else self.num_slots,
            unselectable_token_ids=list(range(len(SPECIAL_TOKENS))),
            mask_token_rate=mask_token_rate,
            random_token_rate=random_token_rate,
            dtype="float32",
        )
        self._continuation = None
        if whole_word:
            self._continuation = np.asarray(continuation_flags(vocab)[:vocab_size], bool)

    def _words(self, token_ids):
        """``[B, L]`` ids -> ragged ``[B, (words), (pieces)]`` grouping ``##`` pieces."""
        import tensorflow as tf

        cont = tf.gather(tf.constant(self._continuation), token_ids)
        # Specials / padding always start their own "word" (they are unselectable).
        cont = tf.logical_and(cont, token_ids >= len(SPECIAL_TOKENS))
        starts = tf.logical_not(cont)
        starts = tf.concat([tf.ones_like(starts[:, :1]), starts[:, 1:]], axis=1)
        flat = tf.reshape(token_ids, [-1])
        word_row = tf.cumsum(tf.cast(tf.reshape(starts, [-1]), tf.int64)) - 1
        words = tf.RaggedTensor.from_value_rowids(flat, word_row)
        words_per_row = tf.reduce_sum(tf.cast(starts, tf.int64), axis=1)
        return tf.RaggedTensor.from_row_lengths(words, words_per_row)

    def __call__(self, token_ids):
        import tensorflow as tf

        token_ids = tf.cast(token_ids, tf.int32)
        inputs = self._words(token_ids) if self.whole_word else token_ids
        out = self.generator(inputs)
        masked = out["token_ids"]
        positions, ids, weights = out["mask_positions"], out["mask_ids"], out["mask_weights"]
        if self.whole_word:
            masked = tf.cast(masked.merge_dims(1, -1).to_tensor(), tf.int32)
            masked = tf.reshape(masked, tf.shape(token_ids))
            overflow = positions[:, self.num_slots:]
            idx = tf.stack([tf.cast(overflow.value_rowids(), tf.int32),
                            tf.cast(overflow.flat_values, tf.int32)], axis=1)
            restore = tf.scatter_nd(idx, tf.ones_like(idx[:, 0]), tf.shape(token_ids)) > 0
            masked = tf.where(restore, token_ids, masked)
            shape = tf.cast([-1, self.num_slots], tf.int64)
            positions = positions[:, :self.num_slots].to_tensor(shape=shape)
            ids = ids.merge_dims(1, -1)[:, :self.num_slots].to_tensor(shape=shape) \
                if ids.ragged_rank > 1 else ids[:, :self.num_slots].to_tensor(shape=shape)
            weights = weights[:, :self.num_slots].to_tensor(shape=shape)
        masked = tf.cast(masked, tf.int32)
        # A random replacement must be a real word piece, never [PAD] [UNK] [CLS] [SEP]
        # ([PAD] would silently change the padding mask).
        bad = tf.logical_and(masked != token_ids, masked < _IDS["mask"])
        redraw = tf.random.uniform(tf.shape(masked), len(SPECIAL_TOKENS), self.vocab_size,
                                   dtype=tf.int32)
        masked = tf.where(bad, redraw, masked)
        x = {
            "token_ids": masked,
            "mask_positions": tf.cast(positions, tf.int32),
        }
        return x, tf.cast(ids, tf.int32), tf.cast(weights, tf.float32)
