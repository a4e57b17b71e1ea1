"""Stateless dynamic masking: statistics on a large batch, specials, slots, whole words,
reproducibility across processes and parallel maps."""

import numpy as np
import pytest
import tensorflow as tf

from tfssl.errors import UsageError
from tfssl.text.masking import MLMMasker, num_mask_slots, span_length_probs
from tfssl.text.vocab import SPECIAL_TOKENS

V = 1000
N_SPECIAL = len(SPECIAL_TOKENS)
MASK = 4


def _rows(n=1024, length=64, seed=0):
    rng = np.random.default_rng(seed)
    rows = np.zeros((n, length), np.int32)
    for i in range(n):
        k = rng.integers(10, length - 1)  # real tokens, then [SEP], then padding
        rows[i, 0] = 2
        rows[i, 1:k] = rng.integers(N_SPECIAL, V, k - 1)
        rows[i, k] = 3
        # a few [UNK] / [SEP] inside: never selectable either
        rows[i, rng.integers(1, k)] = rng.choice([1, 3])
    return rows


def _mask(masker, rows):
    ds = tf.data.Dataset.from_tensors(rows).map(masker)
    x, y, w = next(iter(ds))
    return x["token_ids"].numpy(), x["mask_positions"].numpy(), y.numpy(), w.numpy()


def _runs(selected):
    """Lengths of the runs of consecutive True along each row."""
    out = []
    for row in selected:
        edges = np.diff(np.concatenate([[0], row.astype(int), [0]]))
        out.extend(np.flatnonzero(edges == -1) - np.flatnonzero(edges == 1))
    return np.array(out)


def _selected(rows, pos, w):
    r, c = np.nonzero(w > 0)
    selected = np.zeros_like(rows, bool)
    selected[r, pos[r, c]] = True
    return selected


def test_masking_statistics_large_batch():
    rows = _rows()
    masker = MLMMasker(V, rows.shape[1], mask_rate=0.15)
    tokens, pos, ids, w = _mask(masker, rows)
    assert pos.shape == ids.shape == w.shape == (len(rows), num_mask_slots(64, 0.15))
    eligible = rows >= N_SPECIAL
    real = w > 0
    # 15% of the eligible tokens (per row ceil(0.15 * eligible)).
    rate = real.sum() / eligible.sum()
    assert 0.145 < rate < 0.175, rate
    per_row = real.sum(1)
    np.testing.assert_array_equal(
        per_row, np.minimum(np.ceil(0.15 * eligible.sum(1)), pos.shape[1]))
    r, c = np.nonzero(real)
    sel = pos[r, c]
    # Never a special or padding token; targets are the original ids.
    assert np.all(rows[r, sel] >= N_SPECIAL)
    np.testing.assert_array_equal(ids[r, c], rows[r, sel])
    # Padding slots have zero weight and target/position 0.
    assert np.all(ids[~real] == 0) and np.all(pos[~real] == 0)
    # 80 / 10 / 10.
    new = tokens[r, sel]
    frac_mask = np.mean(new == MASK)
    frac_kept = np.mean(new == rows[r, sel])
    frac_random = 1 - frac_mask - frac_kept
    assert abs(frac_mask - 0.8) < 0.025, frac_mask
    assert abs(frac_kept - 0.1) < 0.02, frac_kept
    assert abs(frac_random - 0.1) < 0.02, frac_random
    # Random replacements are real word pieces, never [PAD] [UNK] [CLS] [SEP].
    assert np.all(new[(new != MASK) & (new != rows[r, sel])] >= N_SPECIAL)
    # Everything that was not selected is unchanged.
    selected = _selected(rows, pos, w)
    np.testing.assert_array_equal(tokens[~selected], rows[~selected])


def test_masks_are_fresh_each_pass():
    rows = _rows(64)
    masker = MLMMasker(V, rows.shape[1])
    ds = tf.data.Dataset.from_tensors(rows).repeat(2).map(masker)
    (x1, _, _), (x2, _, _) = list(ds)
    assert not np.array_equal(x1["mask_positions"].numpy(), x2["mask_positions"].numpy())


WORD_VOCAB = SPECIAL_TOKENS + [f"w{i}" for i in range(40)] + [f"##s{i}" for i in range(40)]


def _word_rows(length, words_until, seed):
    """256 rows of words of 1-3 pieces (``w`` then ``##s``) up to ``words_until``."""
    rng = np.random.default_rng(seed)
    rows = np.zeros((256, length), np.int32)
    for i in range(256):
        seq = [2]
        while len(seq) < words_until:
            seq.append(rng.integers(5, 45))
            seq.extend(rng.integers(45, 85, rng.integers(0, 3)))
        rows[i, :words_until], rows[i, words_until] = seq[:words_until], 3
    return rows


def _assert_whole_words(rows, tokens, pos, w):
    """Nothing corrupted without being predicted, no special selected, and a selected
    continuation piece's word start is selected, and vice versa (except where the slots
    ran out at the end of the row)."""
    cont = np.array([t.startswith("##") for t in WORD_VOCAB])
    selected = _selected(rows, pos, w)
    assert np.all(selected[tokens != rows]) and np.all(rows[selected] >= N_SPECIAL)
    for i in range(len(rows)):
        last = pos[i][w[i] > 0].max() if (w[i] > 0).any() else -1
        for j in range(1, rows.shape[1]):
            if cont[rows[i, j]] and j <= last:
                assert selected[i, j] == selected[i, j - 1], (i, j)
    return selected


def test_whole_word_masking_selects_whole_words():
    rows = _word_rows(48, 40, seed=1)
    masker = MLMMasker(len(WORD_VOCAB), 48, whole_word=True, vocab=WORD_VOCAB)
    tokens, pos, _, w = _mask(masker, rows)
    _assert_whole_words(rows, tokens, pos, w)


def test_span_lengths_are_spanbert_geometric():
    probs = span_length_probs(10)
    assert probs.shape == (10,) and abs(probs.sum() - 1) < 1e-9
    assert abs(np.dot(np.arange(1, 11), probs) - 3.8) < 0.05  # SpanBERT's mean
    assert span_length_probs(1).tolist() == [1.0]


@pytest.mark.parametrize("packed", [False, True])
def test_span_masking_selects_runs_at_the_mask_rate(packed):
    if packed:  # a pretraining row: real pieces from [CLS] to [SEP], no padding
        rows = np.random.default_rng(5).integers(N_SPECIAL, V, (1024, 128)).astype(np.int32)
        rows[:, 0], rows[:, -1] = 2, 3
    else:
        rows = _rows(1024, 128)
    key = tf.constant([3, 4], tf.int64)
    single = MLMMasker(V, 128, mask_rate=0.4)
    spans = MLMMasker(V, 128, mask_rate=0.4, max_span_length=10)
    assert spans.num_slots == single.num_slots  # the same head cost
    (x, ids, w), (x1, _, w1) = spans(rows, key), single(rows, key)
    tokens, pos, ids, w = (x["token_ids"].numpy(), x["mask_positions"].numpy(),
                           ids.numpy(), w.numpy())
    selected = _selected(rows, pos, w)
    eligible = rows >= N_SPECIAL
    # About the mask rate still (overlapping spans are allowed for; on packed rows a
    # few spans run past the slots at the end of the row and stay unmasked).
    rate = selected.sum() / eligible.sum()
    assert (0.36 if packed else 0.38) < rate < 0.44, rate
    # Runs: single-token selection is mostly isolated, spans are long.
    single_runs = _runs(_selected(rows, x1["mask_positions"].numpy(), w1.numpy()))
    assert _runs(selected).mean() > 4.0 > 2.0 > single_runs.mean(), (
        _runs(selected).mean(), single_runs.mean())
    # Never a special token (a span stops there), targets are the originals, nothing
    # changed without being predicted.
    assert np.all(eligible[selected])
    r, c = np.nonzero(w > 0)
    np.testing.assert_array_equal(ids[r, c], rows[r, pos[r, c]])
    np.testing.assert_array_equal(tokens[~selected], rows[~selected])
    # Keyed: the same masks again, other masks for another key.
    again = spans(rows, key)[0]["token_ids"].numpy()
    np.testing.assert_array_equal(again, tokens)
    other = spans(rows, tf.constant([3, 5], tf.int64))[0]["token_ids"].numpy()
    assert not np.array_equal(other, tokens)


def test_span_masking_with_whole_words():
    rows = _word_rows(64, 60, seed=2)
    masker = MLMMasker(len(WORD_VOCAB), 64, mask_rate=0.3, whole_word=True,
                       vocab=WORD_VOCAB, max_span_length=6)
    tokens, pos, _, w = _mask(masker, rows)
    assert _runs(_assert_whole_words(rows, tokens, pos, w)).mean() > 3.0


@pytest.mark.parametrize("value", [0, -1, 1.5, True, 127])
def test_bad_max_span_length(value):
    with pytest.raises(UsageError, match="--max_span_length=.*expected a whole number"):
        MLMMasker(V, 128, max_span_length=value)


def test_bad_mask_rate():
    with pytest.raises(UsageError):
        MLMMasker(V, 32, mask_rate=0.0)
    with pytest.raises(UsageError):
        MLMMasker(5, 32)


_MASK_SCRIPT = """
import hashlib, sys
import numpy as np
import tensorflow as tf
sys.path.insert(0, {root!r})
from tests.text.test_masking import _rows, V
from tfssl.text.masking import MLMMasker

def digest(parallel, seed=7, stream=0, whole_word=False):
    rows = _rows(256, 48, seed=3)
    masker = MLMMasker(V, 48)
    ds = masker.mask_batches(tf.data.Dataset.from_tensor_slices(rows).batch(32), seed,
                             stream=stream, num_parallel_calls=parallel)
    h = hashlib.md5()
    for x, y, w in ds:
        for a in (x["token_ids"], x["mask_positions"], y, w):
            h.update(a.numpy().tobytes())
    return h.hexdigest()
"""


def _digest_namespace():
    import os
    root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    ns = {}
    exec(_MASK_SCRIPT.format(root=root), ns)
    return ns, root


def test_masks_are_reproducible_across_processes_and_parallel_maps():
    # keras-hub's MaskedLMMaskGenerator gave different masks in fresh processes with the
    # same seed (stateful draws racing in a map_fn); the stateless keys must not.
    import subprocess
    import sys

    ns, root = _digest_namespace()
    here = ns["digest"](None)
    assert ns["digest"](tf.data.AUTOTUNE) == here
    assert ns["digest"](None, seed=8) != here
    assert ns["digest"](None, stream=1) != here
    code = _MASK_SCRIPT.format(root=root) + "\nprint(digest(tf.data.AUTOTUNE))\n"
    for _ in range(2):
        out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                             check=True, cwd=root).stdout.split()
        assert out[-1] == here


def test_keyed_masks_are_fresh_per_batch_index():
    rows = _rows(64)
    masker = MLMMasker(V, rows.shape[1])
    ds = masker.mask_batches(tf.data.Dataset.from_tensors(rows).repeat(2), seed=0)
    (x1, _, _), (x2, _, _) = list(ds)
    assert not np.array_equal(x1["token_ids"].numpy(), x2["token_ids"].numpy())
    again = masker(rows, tf.constant([0, 1], tf.int64))[0]["token_ids"].numpy()
    np.testing.assert_array_equal(again, x2["token_ids"].numpy())
