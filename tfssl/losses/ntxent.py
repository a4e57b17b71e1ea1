"""NT-Xent: the normalised temperature-scaled cross-entropy of SimCLR.

With ``z`` the L2-normalised embeddings, ``T`` the temperature and ``s_ij = z_i . z_j / T``
the similarity logits, the loss of anchor ``i`` with positive ``p(i)`` is

    l_i = lse_i - s_i,p(i),    lse_i = log sum_{j != i} exp(s_ij),

over the ``2N`` candidates (all embeddings of all replicas but the anchor itself).

The blocked path (:func:`_negatives_logsumexp`) never holds the ``(2N, 2N)`` matrix: it
computes ``lse`` a block of anchor rows at a time and has an analytic gradient. With
upstream gradients ``w_i`` for ``lse_i`` and ``P_ij = exp(s_ij - lse_i)`` (0 on the
diagonal), ``dL/ds_ij = w_i P_ij``, so for anchors ``a`` and candidates ``c``

    dL/da_i = sum_j w_i P_ij c_j / T,    dL/dc_j = sum_i w_i P_ij a_i / T.

Across replicas (anchors local, candidates gathered) that is what it computes, block by
block of rows, recomputing each block of ``s``. On one replica the anchors *are* the
candidates and ``s`` is symmetric, so both terms fold into

    dL/dz = H z / T,    H = G + G^T,    H_ij = exp(s_ij) (u_i + u_j),    u = w exp(-lse),

and only the upper triangle is visited: tile ``t`` is rows ``[r0, r1)`` against columns
``[r0, 2N)``; a row's sum is its part in its own tile plus the earlier tiles' column sums
for the columns left of it, and a tile's ``H`` gives ``H z[r0:]`` to its rows and
``H^T z[r0:r1]`` to the rows of its columns. Forward and backward together cost two
``(2N x D x 2N)`` matrix products and ``(2N)^2`` exps, against three products and several
``(2N, 2N)`` intermediates, stored and freshly paged in every step, for TensorFlow's
autodiff of the dense formula. Because ``|s_ij| <= 1/T``, ``exp`` needs no max-shift
while ``1/T <= 50`` (``exp(+-50)`` and ``2N exp(50)`` are well inside float32); colder
temperatures, and XLA compilations (which need static block shapes), take the dense
formula. The positive logit ``s_i,p(i) = z1_k . z2_k / T`` is one dot product per
image, differentiated by TensorFlow.
"""

import numbers

import keras
import tensorflow as tf

from tfssl.distribute import replicas
from tfssl.errors import check_number

_NEG_INF = -1e9
# The blocked path computes exp(s) unshifted, |s| <= 1/T: fine for 1/T <= 50.
_MAX_BLOCKED_INV_TEMPERATURE = 50.0
# Anchor rows per block: about this many similarity entries (8 MiB of float32), so each
# block is reused from cache and from the allocator's heap rather than fresh pages.
_BLOCK_ELEMENTS = 1 << 21


def ntxent_logits(z1, z2, temperature):
    """Similarity logits of every local anchor against every candidate.

    The dense ``(2n, 2N)`` matrix, for inspection and for the path taken under XLA; the
    loss itself is computed in blocks (see the module docstring).

    Args:
        z1, z2: ``(n, d)`` projections of the two views on this replica.
        temperature: softmax temperature.

    Returns:
        ``(logits, labels)``: ``logits`` is ``(2n, 2N)`` float32 for the global batch
        ``N`` of the replicas in sync (candidates ``[Z1 of all replicas; Z2 of all
        replicas]``; replicas may hold different ``n``), with each
        anchor's similarity to itself masked out; ``labels`` ``(2n,)`` holds the column of
        each anchor's positive (the other view of the same image).
    """
    z1 = tf.math.l2_normalize(tf.cast(z1, tf.float32), axis=-1)
    z2 = tf.math.l2_normalize(tf.cast(z2, tf.float32), axis=-1)
    n = tf.shape(z1)[0]
    big1 = replicas.all_gather(z1)
    big2 = replicas.all_gather(z2)
    total = tf.shape(big1)[0]  # the global batch
    offset = replicas.gather_offset(n)  # replicas may hold different sizes (3 + 2)

    anchors = tf.concat([z1, z2], axis=0)  # (2n, d)
    candidates = tf.concat([big1, big2], axis=0)  # (2N, d)
    logits = tf.matmul(anchors, candidates, transpose_b=True) / temperature

    local = tf.range(n) + offset
    self_cols = tf.concat([local, local + total], axis=0)
    pos_cols = tf.concat([local + total, local], axis=0)
    self_mask = tf.one_hot(self_cols, 2 * total, dtype=tf.float32)
    logits = logits + self_mask * _NEG_INF
    return logits, pos_cols


@keras.saving.register_keras_serializable(package="tfssl")
class NTXent(keras.losses.Loss):
    """NT-Xent contrastive loss (Chen et al. 2020), ``loss = NTXent()(z1, z2)``.

    ``z1`` and ``z2`` are the projections ``(N, D)`` of two augmented views of the
    same ``N`` images (row ``i`` of each is the same image). After L2 normalisation every
    one of the ``2N`` embeddings is an anchor whose positive is the other view of its
    image and whose negatives are the other ``2N - 2`` embeddings; the loss of an anchor
    is ``-log softmax`` of the positive's cosine similarity divided by ``temperature``.
    The per-example value returned to Keras is the mean of the two anchors of an image,
    so the default reduction gives the mean over all ``2N`` anchors. The loss is
    symmetric in ``z1`` / ``z2`` and always computed in float32.

    Inside a ``tf.distribute`` replica context the candidates are gathered from all
    replicas, so every anchor sees ``2 * global_batch - 2`` negatives, as in the
    paper's large-batch setting; with one replica it is exact as above.

    The ``(2N, 2N)`` similarity matrix is never held whole: the loss is computed a block
    of anchors at a time with an analytic gradient (see the module docstring), for
    temperatures >= 0.02 and outside XLA; otherwise the dense formula is used.

    Args:
        temperature: softmax temperature, > 0.
        reduction, name, dtype: as for ``keras.losses.Loss``.

    Example:
        >>> loss = NTXent(temperature=0.5)
        >>> value = loss(z1, z2)
    """

    def __init__(self, temperature=0.5, reduction="sum_over_batch_size", name="ntxent",
                 dtype=None):
        super().__init__(reduction=reduction, name=name, dtype=dtype)
        self.temperature = check_number("temperature", temperature)

    def call(self, y_true, y_pred):
        return _ntxent(y_true, y_pred, self.temperature, with_accuracy=False)[0]

    def get_config(self):
        config = super().get_config()
        config["temperature"] = self.temperature
        return config


def ntxent_loss_and_accuracy(z1, z2, temperature):
    """Per-image NT-Xent ``(N,)`` and the contrastive accuracy, from one similarity matrix.

    The loss of an image is the mean of its two anchors' cross-entropies (what
    :class:`NTXent` returns); the accuracy is the fraction of the ``2N`` anchors whose
    positive is ranked first (no gradient). A training step that logs both computes the
    ``(2N, 2N)`` similarities once (block by block, each block serving both).
    """
    return _ntxent(z1, z2, temperature, with_accuracy=True)


def ntxent_accuracy(z1, z2, temperature=1.0):
    """Fraction of the ``2N`` anchors whose positive is ranked first among all candidates."""
    return tf.stop_gradient(_ntxent(z1, z2, temperature, with_accuracy=True)[1])


def _ntxent(z1, z2, temperature, with_accuracy):
    """``(per-image loss (n,), accuracy or None)``, by the blocked path when it applies."""
    if not _blocked_path_applies(temperature):
        return _dense_ntxent(z1, z2, temperature, with_accuracy)
    inv_t = 1.0 / float(temperature)
    z1 = tf.math.l2_normalize(tf.cast(z1, tf.float32), axis=-1)
    z2 = tf.math.l2_normalize(tf.cast(z2, tf.float32), axis=-1)
    n = tf.shape(z1)[0]
    anchors = tf.concat([z1, z2], axis=0)  # (2n, d)
    if replicas.gathers():
        big1 = replicas.all_gather(z1)
        big2 = replicas.all_gather(z2)
        total = tf.shape(big1)[0]  # the global batch
        offset = replicas.gather_offset(n)  # replicas may hold different sizes (3 + 2)
        candidates = tf.concat([big1, big2], axis=0)  # (2N, d)
        symmetric = False
    else:
        total, offset, candidates, symmetric = n, tf.constant(0, tf.int32), anchors, True
    lse, hits = _negatives_logsumexp(anchors * inv_t, candidates, n, total, offset,
                                     symmetric=symmetric, with_hits=with_accuracy)
    # Both anchors of image k have the same positive logit, z1_k . z2_k / T.
    positive = inv_t * tf.reduce_sum(z1 * z2, axis=-1)
    per_image = 0.5 * (lse[:n] + lse[n:]) - positive
    accuracy = tf.reduce_mean(hits) if with_accuracy else None
    return per_image, accuracy


def _blocked_path_applies(temperature):
    """A Python temperature >= 1/50 and not inside an XLA compilation (dynamic blocks)."""
    if not isinstance(temperature, numbers.Real) or temperature <= 0:
        return False
    return 1.0 / temperature <= _MAX_BLOCKED_INV_TEMPERATURE and not _in_xla_context()


def _in_xla_context():
    if tf.executing_eagerly():
        return False
    try:
        from tensorflow.python.ops import control_flow_util
    except ImportError:  # pragma: no cover - the helper moved; assume no XLA
        return False
    return control_flow_util.GraphOrParentsInXlaContext(tf.compat.v1.get_default_graph())


def _dense_ntxent(z1, z2, temperature, with_accuracy):
    """The dense ``(2n, 2N)`` formula, differentiated by TensorFlow (XLA, cold ``T``)."""
    logits, labels = ntxent_logits(z1, z2, temperature)
    per_anchor = tf.nn.sparse_softmax_cross_entropy_with_logits(labels, logits)
    n = tf.shape(per_anchor)[0] // 2
    accuracy = None
    if with_accuracy:
        ranked = tf.argmax(tf.stop_gradient(logits), axis=-1, output_type=tf.int32)
        accuracy = tf.reduce_mean(tf.cast(tf.equal(ranked, labels), tf.float32))
    return 0.5 * (per_anchor[:n] + per_anchor[n:]), accuracy


class _Blocks:
    """Row blocks of the ``2n`` anchors ``[z1; z2]`` against ``2N`` candidates.

    A block never straddles the two views, so its rows' own columns (masked out) lie on
    one diagonal of the block, ``k`` columns right of its first row: ``offset + r`` for
    anchor ``r`` of ``z1`` and ``total + offset + r`` for ``z2``; the positives lie
    ``total`` columns to the other side.
    """

    def __init__(self, n, total, offset, cols):
        self.n, self.total, self.offset = n, total, offset
        self.rows = tf.maximum(1, _BLOCK_ELEMENTS // tf.maximum(cols, 1))
        self.per_view = (n + self.rows - 1) // self.rows
        self.count = 2 * self.per_view

    def __call__(self, i):
        """``(r0, r1, self_col0, positive_col0)`` of block ``i``."""
        view, j = i // self.per_view, i % self.per_view
        first = j * self.rows
        r0 = view * self.n + first
        r1 = view * self.n + tf.minimum(first + self.rows, self.n)
        self_col = view * self.total + self.offset + first
        return r0, r1, self_col, (1 - view) * self.total + self.offset + first


def _similarity_block(scaled, candidates, r0, r1, self_col):
    """``s[r0:r1]`` with each anchor's own column set to -inf."""
    s = tf.matmul(scaled[r0:r1], candidates, transpose_b=True)
    return tf.linalg.set_diag(s, tf.fill([r1 - r0], float("-inf")), k=self_col)


def _concat_loop(blocks, body, dtypes, shapes, accumulator=None):
    """Runs ``body(r0, r1, self_col, pos_col[, acc])`` over every block in a while loop.

    Returns the row-wise concatenation of each of its first outputs (``dtypes``,
    ``shapes`` are per-row element shapes) and, given an ``accumulator``, the sum of
    its last output started from it.
    """
    arrays = tuple(tf.TensorArray(dt, size=blocks.count, infer_shape=False,
                                  element_shape=tf.TensorShape([None] + list(shape)))
                   for dt, shape in zip(dtypes, shapes))

    def step(i, arrays, *acc):
        out = body(*blocks(i), *acc)
        arrays = tuple(a.write(i, o) for a, o in zip(arrays, out))
        return (i + 1, arrays) + tuple(out[len(arrays):])

    state = (tf.constant(0), arrays) + ((accumulator,) if accumulator is not None else ())
    # One block at a time: its (rows, 2N) intermediates are reused, not multiplied.
    final = tf.while_loop(lambda i, *_: i < blocks.count, step, state,
                          parallel_iterations=1)
    results = tuple(a.concat() for a in final[1])
    return results + tuple(final[2:])


def _negatives_logsumexp(scaled, candidates, n, total, offset, symmetric, with_hits):
    """``lse_i = log sum_{j != self(i)} exp(scaled_i . candidates_j)`` and the hits.

    Args:
        scaled: ``(2n, d)`` anchors ``[z1; z2]`` already divided by ``T``.
        candidates: ``(2N, d)`` ``[Z1 of all replicas; Z2 of all replicas]``; with
            ``symmetric`` the anchors themselves, unscaled (one replica).
        n, total, offset: local and global batch, first global row of this replica.
        with_hits: also return ``(2n,)`` float 1.0 where the positive is ranked first
            (``argmax`` of the masked row, as :func:`ntxent_logits`; no gradient).

    Returns:
        ``(lse, hits or None)``, with the analytic gradient of ``lse`` (module docstring).
    """
    if symmetric:
        forward, backward = _triangle_forward, _triangle_backward
        args = (n,)
    else:
        forward, backward = _rows_forward, _rows_backward
        args = (_Blocks(n, total, offset, tf.shape(candidates)[0]),)

    @tf.custom_gradient
    def lse_and_hits(scaled, candidates):
        lse, hits = forward(scaled, candidates, *args, with_hits)

        def grad(dlse, *unused):
            # u_i = w_i exp(-lse_i): w_i P_ij = exp(s_ij) u_i with s unshifted (|s| <= 50).
            u = tf.convert_to_tensor(dlse) * tf.exp(-lse)
            return backward(scaled, candidates, *args, u)

        return ((lse, hits) if with_hits else lse), grad

    if with_hits:
        return lse_and_hits(scaled, candidates)
    return lse_and_hits(scaled, candidates), None


def _rows_forward(scaled, candidates, blocks, with_hits):
    """Anchors against gathered candidates: whole rows of ``s``, a block at a time."""
    def body(r0, r1, self_col, pos_col):
        s = _similarity_block(scaled, candidates, r0, r1, self_col)
        lse = tf.math.log(tf.reduce_sum(tf.exp(s), axis=1))
        if not with_hits:
            return (lse,)
        ranked = tf.argmax(s, axis=1, output_type=tf.int32)
        hit = tf.equal(ranked, pos_col + tf.range(r1 - r0))
        return lse, tf.cast(hit, tf.float32)

    kinds = (tf.float32, tf.float32) if with_hits else (tf.float32,)
    out = _concat_loop(blocks, body, kinds, [[]] * len(kinds))
    return out[0], (out[1] if with_hits else None)


def _rows_backward(scaled, candidates, blocks, u):
    """``d scaled = G c`` by rows and ``d c = G^T scaled`` summed over blocks."""
    def body(r0, r1, self_col, pos_col, d_cand):
        e = tf.exp(_similarity_block(scaled, candidates, r0, r1, self_col))
        g = e * u[r0:r1, None]  # w_i P_ij
        d_cand += tf.matmul(g, scaled[r0:r1], transpose_a=True)
        return tf.matmul(g, candidates), d_cand

    return _concat_loop(blocks, body, (tf.float32,), [candidates.shape[1:]],
                        accumulator=tf.zeros_like(candidates))


def _triangle_tiles(m):
    """Rows per tile and tile count for ``m`` anchors: tile ``t`` is rows ``[r0, r1)``
    against columns ``[r0, m)`` of the symmetric ``s``, so every pair is computed once."""
    rows = tf.maximum(1, _BLOCK_ELEMENTS // tf.maximum(m, 1))
    return rows, (m + rows - 1) // rows


def _triangle_tile(scaled, z, r0, r1):
    """``s[r0:r1, r0:]``, each anchor's own entry (the tile's main diagonal) -inf."""
    s = tf.matmul(scaled[r0:r1], z[r0:], transpose_b=True)
    return tf.linalg.set_diag(s, tf.fill([r1 - r0], float("-inf")))


def _same_shape(new, old):
    """``new`` with the static shape of ``old`` (a while-loop variable keeps its shape)."""
    new.set_shape(old.shape)
    return new


def _triangle_forward(scaled, z, n, with_hits):
    """One replica: ``lse`` from the upper triangle of ``s`` (``s`` is symmetric).

    Row ``i`` of ``s`` is its part right of the tile's first column (summed along the
    tile's rows) and its part left of it, which earlier tiles hold as columns (summed
    along their columns, the tile's own square excluded: its rows cover it). The argmax
    merges the same way, the smaller column winning ties as in ``tf.argmax``.
    """
    m = tf.shape(z)[0]
    rows, count = _triangle_tiles(m)
    neg_inf = tf.constant(float("-inf"))

    def step(t, row_arrays, col_sum, *col_best):
        r0 = t * rows
        r1 = tf.minimum(r0 + rows, m)
        b = r1 - r0
        s = _triangle_tile(scaled, z, r0, r1)
        e = tf.exp(s)
        out = [tf.reduce_sum(e, axis=1)]
        col_sum = _same_shape(col_sum + tf.pad(tf.reduce_sum(e, axis=0)[b:], [[r1, 0]]),
                              col_sum)
        if with_hits:
            # argmax passes only; the maxima are gathered at the argmax positions.
            row_arg = tf.argmax(s, axis=1, output_type=tf.int32)
            out += [tf.gather(s, row_arg[:, None], batch_dims=1)[:, 0], r0 + row_arg]
            best, arg = col_best
            col_arg = tf.argmax(s, axis=0, output_type=tf.int32)[b:]
            # columns right of the tile's square
            top = tf.gather_nd(s, tf.stack([col_arg, tf.range(b, tf.shape(s)[1])], axis=1))
            top_arg = r0 + col_arg
            better = top > best[r1:]  # earlier tiles had smaller rows: they win ties
            col_best = (tf.concat([best[:r1], tf.where(better, top, best[r1:])], 0),
                        tf.concat([arg[:r1], tf.where(better, top_arg, arg[r1:])], 0))
            col_best = tuple(map(_same_shape, col_best, (best, arg)))
        row_arrays = tuple(a.write(t, o) for a, o in zip(row_arrays, out))
        return (t + 1, row_arrays, col_sum) + tuple(col_best)

    kinds = (tf.float32, tf.float32, tf.int32) if with_hits else (tf.float32,)
    row_arrays = tuple(tf.TensorArray(k, size=count, infer_shape=False,
                                      element_shape=tf.TensorShape([None])) for k in kinds)
    col_best = (tf.fill([m], neg_inf), tf.fill([m], m)) if with_hits else ()
    state = (tf.constant(0), row_arrays, tf.zeros([m])) + col_best
    final = tf.while_loop(lambda t, *_: t < count, step, state, parallel_iterations=1)
    row_parts = [a.concat() for a in final[1]]
    lse = tf.math.log(row_parts[0] + final[2])
    if not with_hits:
        return lse, None
    best, arg = final[3], final[4]
    ranked = tf.where(best >= row_parts[1], arg, row_parts[2])
    positive = tf.concat([tf.range(n) + n, tf.range(n)], axis=0)
    return lse, tf.cast(tf.equal(ranked, positive), tf.float32)


def _triangle_backward(scaled, z, n, u):
    """One replica: ``d scaled = (G + G^T) z`` from the upper triangle (``d z`` folded in).

    A tile's ``H = (G + G^T)[r0:r1, r0:]`` gives its rows' part ``H z[r0:]`` and, for
    the columns right of its square, their part ``H^T z[r0:r1]``.
    """
    m = tf.shape(z)[0]
    rows, count = _triangle_tiles(m)

    def step(t, row_part, col_part):
        r0 = t * rows
        r1 = tf.minimum(r0 + rows, m)
        b = r1 - r0
        e = tf.exp(_triangle_tile(scaled, z, r0, r1))
        h = e * (u[r0:r1, None] + u[None, r0:])
        row_part = row_part.write(t, tf.matmul(h, z[r0:]))
        from_cols = tf.matmul(h, z[r0:r1], transpose_a=True)[b:]
        col_part = _same_shape(col_part + tf.pad(from_cols, [[r1, 0], [0, 0]]), col_part)
        return t + 1, row_part, col_part

    row_part = tf.TensorArray(tf.float32, size=count, infer_shape=False,
                              element_shape=tf.TensorShape([None] + list(z.shape[1:])))
    _, row_part, col_part = tf.while_loop(
        lambda t, *_: t < count, step, (tf.constant(0), row_part, tf.zeros_like(z)),
        parallel_iterations=1)
    # d(loss)/d(candidates) is folded into d(scaled): both are the same z.
    return row_part.concat() + col_part, tf.zeros_like(z)
