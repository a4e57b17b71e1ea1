"""A tiny masked-token batch shared by the text-method tests (MaskedLM, Electra)."""

import numpy as np

V, L, P = 40, 12, 3  # vocabulary, row length, mask slots per row


def masked_batch(b=8, seed=0):
    """Rows of ``L`` ids with [CLS] .. [SEP], padding in row 1, [MASK] at ``P`` slots per
    row, an unused slot in row 0 and two in row 5 (mod ``b``).

    Returns ``(x, ids, weights, tokens)``: the model input ``{"token_ids",
    "mask_positions"}``, the original ids at the slots, the slot weights and the rows
    before masking."""
    rng = np.random.default_rng(seed)
    tok = rng.integers(5, V, (b, L)).astype("int32")
    tok[:, 0], tok[:, -1] = 2, 3
    tok[1, 8:] = 0
    tok[1, 7] = 3
    pos = np.sort(np.stack([rng.choice(np.arange(1, 7), P, replace=False)
                            for _ in range(b)]), 1).astype("int32")
    ids = np.take_along_axis(tok, pos, 1)
    masked = tok.copy()
    np.put_along_axis(masked, pos, 4, 1)
    w = np.ones((b, P), "float32")
    w[0, 2] = 0.0
    w[5 % b, 1:] = 0.0
    return {"token_ids": masked, "mask_positions": pos}, ids, w, tok


def fit_three_steps(make_model, ds, strategy, learning_rate):
    """Build ``make_model()`` under ``strategy``, fit three SGD steps of ``ds``; returns
    the history (epoch means of the logs) and the trained weights as arrays."""
    import keras

    with strategy.scope():
        model = make_model()
        model.compile(optimizer=keras.optimizers.SGD(learning_rate))
    hist = model.fit(ds, epochs=1, verbose=0, steps_per_epoch=3)
    return hist.history, [v.numpy() for v in model.trainable_weights]
