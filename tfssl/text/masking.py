"""Dynamic BERT masking inside ``tf.data``, stateless and reproducible.

Each batch gets fresh masks (so every epoch sees new ones): ``mask_rate`` of the
eligible tokens (never ``[PAD] [UNK] [CLS] [SEP] [MASK]``) are selected, of those 80%
become ``[MASK]``, 10% a random word piece and 10% stay unchanged. The selections live
in a fixed number of slots per row (``mask_positions``, ``mask_ids``, ``mask_weights``
with zero weight on unused slots) so that the model sees static shapes.

Every draw is a stateless random op keyed by ``(seed, batch index)``
(:meth:`MLMMasker.mask_batches`), so a run's masks are the same in every process and
under a parallel ``map``. keras-hub's ``MaskedLMMaskGenerator`` (which this replaced)
draws from stateful ops, one of them inside a ``map_fn`` whose parallel iterations race:
the same seed gave different masks from one process to the next.
"""

import math

import numpy as np

from tfssl.errors import UsageError
from tfssl.text.vocab import SPECIAL_TOKENS, special_token_ids

__all__ = ["MLMMasker", "num_mask_slots", "continuation_flags", "span_length_probs"]

_IDS = special_token_ids()
_STREAM = 2 ** 40  # batch indices per stream in a stateless key
SPAN_P = 0.2  # SpanBERT's geometric span lengths (Joshi et al. 2020)


def span_length_probs(max_span_length, p=SPAN_P):
    """``P(length = 1 .. max_span_length)``: geometric(``p``) clipped and renormalised
    (SpanBERT: p = 0.2, at most 10, mean 3.8)."""
    lengths = np.arange(1, int(max_span_length) + 1)
    probs = p * (1 - p) ** (lengths - 1)
    return probs / probs.sum()


def num_mask_slots(max_length, mask_rate):
    """Slots per row: ``ceil(mask_rate * (max_length - 2))``, the most ever selected."""
    return max(1, int(math.ceil(mask_rate * (max_length - 2))))


def continuation_flags(vocab, suffix_indicator="##"):
    """Bool array over the vocabulary: True for pieces that continue a word (``##x``)."""
    return np.array([t.startswith(suffix_indicator) for t in vocab], bool)


class MLMMasker:
    """Masks ``[batch, max_length]`` int rows for masked-LM.

    Args:
        vocab_size: vocabulary size (random replacements are drawn from the non-special
            pieces ``[5, vocab_size)``).
        max_length: row length; sets the number of mask slots.
        mask_rate: fraction of eligible tokens (or words) selected for prediction.
        mask_token_rate, random_token_rate: the 80 / 10 (/ 10 kept) split.
        whole_word: select whole words (a piece and its ``##`` continuations) instead of
            single pieces; needs ``vocab``. Pieces of selected words beyond the slots are
            left unchanged (never corrupted without being predicted).
        vocab: the vocabulary list (whole-word masking only).
        max_span_length: mask spans of consecutive tokens instead of single ones
            (SpanBERT): each span starts at a selected unit and covers ``1 ..
            max_span_length`` pieces, the length drawn from a geometric distribution
            clipped there (:func:`span_length_probs`); with ``whole_word`` every word a
            span touches is masked whole. About ``mask_rate`` of the tokens are still
            selected (spans start at ``-ln(1 - mask_rate) / mean length`` of the units,
            which allows for overlaps; they never cross a special token and fill the
            same slots, so on full rows a span past the last slot stays unmasked: 0.385
            of the tokens at 0.4 on packed 128-token rows). 1 = single units.

    ``masker.mask_batches(batches, seed)`` masks a dataset of row batches reproducibly.
    ``masker(token_ids, key)`` masks one batch with a stateless ``[2]`` int key; without
    a key it draws one from a stateful op (fresh masks, but reproducible only in a
    sequential ``map`` after ``tf.random.set_seed``). Both return
    ``({"token_ids", "mask_positions"}, mask_ids, mask_weights)`` - the
    ``(x, y, sample_weight)`` triple that :class:`tfssl.methods.MaskedLM` trains on.
    """

    def __init__(self, vocab_size, max_length, mask_rate=0.15, mask_token_rate=0.8,
                 random_token_rate=0.1, whole_word=False, vocab=None, max_span_length=1):
        if not 0.0 < mask_rate < 1.0:
            raise UsageError(f"--mask_rate={mask_rate}: expected 0 < rate < 1")
        if (isinstance(max_span_length, bool) or int(max_span_length) != max_span_length
                or not 1 <= max_span_length <= max_length - 2):
            raise UsageError(f"--max_span_length={max_span_length}: expected a whole "
                             f"number from 1 (single tokens) to {max_length - 2} "
                             f"(--max_length={max_length} minus [CLS] and [SEP])")
        if not (0.0 <= mask_token_rate and 0.0 <= random_token_rate
                and mask_token_rate + random_token_rate <= 1.0):
            raise ValueError(f"mask_token_rate={mask_token_rate}, random_token_rate="
                             f"{random_token_rate}: expected rates >= 0 summing to <= 1")
        if vocab_size <= len(SPECIAL_TOKENS):
            raise UsageError(f"vocab_size={vocab_size}: no room after the special tokens")
        if whole_word and vocab is None:
            raise ValueError("whole_word=True needs the vocabulary")
        self.vocab_size = int(vocab_size)
        self.max_length = int(max_length)
        self.mask_rate = float(mask_rate)
        self.mask_token_rate = float(mask_token_rate)
        self.random_token_rate = float(random_token_rate)
        self.whole_word = bool(whole_word)
        self.max_span_length = int(max_span_length)
        self._span_probs = span_length_probs(self.max_span_length)
        self.num_slots = num_mask_slots(max_length, mask_rate)
        self._continuation = None
        if whole_word:
            # A selected word covers one or more pieces: room for twice as many.
            self.num_slots = min(2 * self.num_slots, max(1, self.max_length - 2))
            self._continuation = np.asarray(continuation_flags(vocab)[:vocab_size], bool)

    def mask_batches(self, batches, seed, stream=0, num_parallel_calls=None):
        """``batches`` (a dataset of ``[batch, max_length]`` rows) masked with the keys
        ``(seed, stream * 2**40 + batch index)``: the same masks in every process and at
        any ``num_parallel_calls``; give each input pipeline its own ``stream``."""
        import tensorflow as tf

        def mask(index, token_ids):
            key = tf.stack([tf.constant(int(seed), tf.int64),
                            tf.cast(index, tf.int64) + int(stream) * _STREAM])
            return self(token_ids, key)

        return batches.enumerate().map(mask, num_parallel_calls=num_parallel_calls)

    def _units(self, token_ids, selectable):
        """Where selection units (pieces, or words) start, and each token's unit id."""
        import tensorflow as tf

        if not self.whole_word:
            return selectable, None
        cont = tf.gather(tf.constant(self._continuation), token_ids)
        # Specials / padding always start their own (unselectable) word.
        starts = tf.logical_not(tf.logical_and(cont, selectable))
        starts = tf.concat([tf.ones_like(starts[:, :1]), starts[:, 1:]], axis=1)
        rows, length = tf.unstack(tf.shape(token_ids, out_type=tf.int64))
        row_offset = tf.range(rows)[:, None] * length
        unit = tf.cumsum(tf.cast(starts, tf.int64), axis=1) - 1 + row_offset
        return tf.logical_and(starts, selectable), unit

    def __call__(self, token_ids, key=None):
        import tensorflow as tf

        token_ids = tf.cast(token_ids, tf.int32)
        if key is None:
            key = tf.random.uniform([2], maxval=tf.int64.max, dtype=tf.int64)
        keys = tf.random.experimental.stateless_split(tf.cast(key, tf.int64), 3)
        shape = tf.shape(token_ids)
        length = shape[1]
        selectable = token_ids >= len(SPECIAL_TOKENS)
        eligible, unit = self._units(token_ids, selectable)

        # Select ceil(rate * eligible units) per row: the units with the highest scores
        # (with spans: the span starts, fewer, see _start_rate).
        count = tf.reduce_sum(tf.cast(eligible, tf.float32), axis=1)
        chosen = tf.cast(tf.math.ceil(count * self._start_rate()), tf.int32)
        if not self.whole_word:
            chosen = tf.minimum(chosen, self.num_slots)
        score = tf.where(eligible, tf.random.stateless_uniform(shape, keys[0]), -1.0)
        rank = tf.argsort(tf.argsort(score, axis=1, direction="DESCENDING",
                                     stable=True), axis=1, stable=True)
        selected = tf.logical_and(eligible, rank < chosen[:, None])
        if self.max_span_length > 1:
            selected = self._extend_spans(selected, selectable, keys[0])
        if self.whole_word:  # spread a word's selection from its start to its pieces
            flat_unit = tf.reshape(unit, [-1])
            per_unit = tf.math.unsorted_segment_max(
                tf.reshape(tf.cast(selected, tf.int32), [-1]), flat_unit,
                tf.size(token_ids, out_type=tf.int64))
            selected = tf.reshape(tf.gather(per_unit, flat_unit) > 0, shape)
            selected = tf.logical_and(selected, selectable)
        # The first num_slots selected tokens of a row (in position order) are predicted.
        in_slot = tf.logical_and(
            selected, tf.cumsum(tf.cast(selected, tf.int32), axis=1) <= self.num_slots)

        draw = tf.random.stateless_uniform(shape, keys[1])
        random_ids = tf.random.stateless_uniform(
            shape, keys[2], minval=len(SPECIAL_TOKENS), maxval=self.vocab_size,
            dtype=tf.int32)
        to_mask = tf.logical_and(in_slot, draw < self.mask_token_rate)
        to_random = tf.logical_and(
            in_slot, tf.logical_and(draw >= self.mask_token_rate,
                                    draw < self.mask_token_rate + self.random_token_rate))
        masked = tf.where(to_mask, _IDS["mask"], tf.where(to_random, random_ids, token_ids))

        # Slots: positions in ascending order, padded with position 0, weight 0.
        order = tf.where(in_slot, length - tf.range(length)[None, :], 0)
        top = tf.math.top_k(order, k=self.num_slots).values
        valid = top > 0
        positions = tf.where(valid, length - top, 0)
        ids = tf.where(valid, tf.gather(token_ids, positions, batch_dims=1), 0)
        x = {"token_ids": masked, "mask_positions": positions}
        return x, ids, tf.cast(valid, tf.float32)

    def _start_rate(self):
        """Share of units that start a selection: ``mask_rate``, or with spans of mean
        length m ``-ln(1 - mask_rate) / m`` (random spans overlap: starts at rate q
        cover about ``1 - exp(-q m)`` of the tokens)."""
        if self.max_span_length == 1:
            return self.mask_rate
        mean = float(np.dot(np.arange(1, self.max_span_length + 1), self._span_probs))
        return min(1.0, -math.log1p(-self.mask_rate) / mean)

    def _extend_spans(self, starts, selectable, key):
        """Each selected start covers the next ``length - 1`` tokens too (a drawn span
        length per start), stopping at the first special token or padding."""
        import tensorflow as tf

        key = tf.random.experimental.stateless_fold_in(key, 1)
        draw = tf.random.stateless_uniform(tf.shape(starts), key)
        # Inverse CDF: length = 1 + the number of cumulative probabilities below the draw.
        cdf = tf.constant(np.cumsum(self._span_probs)[:-1], tf.float32)
        length = 1 + tf.reduce_sum(tf.cast(draw[..., None] >= cdf, tf.int32), axis=-1)
        covered = starts
        # reach[i]: tokens still to cover from a span running through i (0 = none).
        own = reach = tf.where(starts, length, 0)
        for _ in range(self.max_span_length - 1):
            carry = tf.pad(reach[:, :-1], [[0, 0], [1, 0]]) - 1
            carry = tf.where(selectable, carry, 0)  # a span stops at a special token
            reach = tf.maximum(own, carry)
            covered = tf.logical_or(covered, reach > 0)
        return covered
