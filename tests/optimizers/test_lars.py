"""LARS against a NumPy reference, config round-trip, and a tiny fit."""

import copy

import keras
import numpy as np
import pytest

from tfssl.optimizers import LARS


def _reference(w, grads, lr, momentum=0.9, wd=0.0, eta=0.001, adapt=True, nesterov=False):
    """NumPy LARS (SimCLR formulation) over a sequence of gradients."""
    w, v = w.astype(np.float64).copy(), np.zeros_like(w, np.float64)
    for g in grads:
        g = g + wd * w
        scaled = lr
        if adapt:
            wn, gn = np.linalg.norm(w), np.linalg.norm(g)
            scaled = lr * (eta * wn / gn if wn > 0 and gn > 0 else 1.0)
        v = momentum * v + scaled * g
        w = w - (momentum * v + scaled * g if nesterov else v)
    return w


W0 = np.array([[0.5, -1.0, 2.0], [0.3, 0.0, -0.7]], np.float32)
GRADS = [np.array([[0.1, 0.2, -0.3], [0.0, 1.0, 0.5]], np.float32),
         np.array([[-0.2, 0.4, 0.1], [0.3, -0.1, 0.2]], np.float32)]


def _run(opt, name="kernel", grads=GRADS):
    var = keras.Variable(W0, name=name)
    for g in grads:
        opt.apply_gradients([(keras.ops.convert_to_tensor(g), var)])
    return keras.ops.convert_to_numpy(var)


@pytest.mark.parametrize("wd", [0.0, 0.1])
@pytest.mark.parametrize("nesterov", [False, True])
@pytest.mark.parametrize("steps", [1, 2])
def test_matches_numpy_reference(wd, nesterov, steps):
    opt = LARS(learning_rate=0.5, momentum=0.9, weight_decay=wd, eta=0.01, nesterov=nesterov)
    got = _run(opt, grads=GRADS[:steps])
    want = _reference(W0, GRADS[:steps], 0.5, wd=wd, eta=0.01, nesterov=nesterov)
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-6)


def test_excluded_variable_skips_trust_ratio_and_weight_decay():
    opt = LARS(learning_rate=0.1, momentum=0.9, weight_decay=0.5)
    got = _run(opt, name="bias")
    want = _reference(W0, GRADS, 0.1, wd=0.0, adapt=False)
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-6)


def test_separate_exclusion_lists():
    # Weight decay everywhere, trust ratio skipped only for "kernel".
    opt = LARS(learning_rate=0.1, weight_decay=0.5, exclude_from_weight_decay=(),
               exclude_from_layer_adaptation=["kernel"])
    got = _run(opt, name="kernel")
    want = _reference(W0, GRADS, 0.1, wd=0.5, adapt=False)
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-6)


def test_layer_variables_are_excluded_by_path():
    dense, bn = keras.layers.Dense(2), keras.layers.BatchNormalization()
    dense.build((None, 3))
    bn.build((None, 2))
    opt = LARS(weight_decay=1e-4)
    assert opt._uses_weight_decay(dense.kernel) and not opt._uses_weight_decay(dense.bias)
    assert not opt._uses_weight_decay(bn.gamma)
    assert opt._uses_layer_adaptation(dense.kernel)
    assert not opt._uses_layer_adaptation(bn.beta)


def test_tfssl_batch_norm_and_biases_excluded_by_variable():
    """tfssl's batch norms are called ``*_bn`` and heads' biases ``dense_N/bias``: the
    exclusion must not depend on the names (it used to: "batch_normalization" never
    matched)."""
    from tfssl.encoders import resnet
    from tfssl.layers import ProjectionHead

    encoder = resnet(18, image_size=8, channels=3, width=0.125)
    head = ProjectionHead(4, 8, 2, last_bn=False)
    head.build((None, encoder.output_shape[-1]))
    opt = LARS(weight_decay=1e-4)
    variables = encoder.trainable_weights + head.trainable_weights
    vectors = [v for v in variables if len(v.shape) <= 1]
    assert any("_bn" in v.path for v in vectors) and any("bias" in v.path for v in vectors)
    for v in variables:
        excluded = len(v.shape) <= 1
        assert opt._uses_weight_decay(v) is not excluded, v.path
        assert opt._uses_layer_adaptation(v) is not excluded, v.path
    # A step: a batch-norm scale with a zero gradient does not decay; its update for a
    # non-zero gradient is plain momentum SGD (no trust ratio).
    gamma = next(v for v in encoder.trainable_weights if v.path.endswith("stem_bn/gamma"))
    before = keras.ops.convert_to_numpy(gamma).copy()
    step = LARS(learning_rate=0.1, momentum=0.0, weight_decay=0.5, eta=1e-3)
    step.apply_gradients([(keras.ops.zeros_like(gamma), gamma)])
    np.testing.assert_array_equal(keras.ops.convert_to_numpy(gamma), before)
    step.apply_gradients([(keras.ops.ones_like(gamma), gamma)])
    np.testing.assert_allclose(keras.ops.convert_to_numpy(gamma), before - 0.1, rtol=1e-6)


def test_get_config_round_trip():
    sched = keras.optimizers.schedules.CosineDecay(0.0, 10, warmup_target=0.3, warmup_steps=2)
    opt = LARS(sched, momentum=0.8, weight_decay=1e-6, eta=0.002, nesterov=True,
               exclude_from_weight_decay=["bias"], exclude_from_layer_adaptation=["bn"])
    config = opt.get_config()
    clone = LARS.from_config(copy.deepcopy(config))  # from_config mutates its input
    assert clone.get_config() == config
    assert config["exclude_from_layer_adaptation"] == ["bn"]
    restored = keras.optimizers.deserialize(keras.optimizers.serialize(opt))
    assert isinstance(restored, LARS) and restored.eta == 0.002
    assert float(restored.learning_rate) == pytest.approx(0.0)  # step 0 of the warm-up


def test_tiny_model_fits_and_loss_decreases():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(64, 4)).astype(np.float32)
    y = (x @ np.array([1.0, -2.0, 0.5, 3.0], np.float32))[:, None]
    keras.utils.set_random_seed(0)
    model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(8, activation="relu"),
                              keras.layers.BatchNormalization(), keras.layers.Dense(1)])
    model.compile(optimizer=LARS(learning_rate=0.1, weight_decay=1e-6), loss="mse")
    kernel0 = keras.ops.convert_to_numpy(model.layers[0].kernel)
    history = model.fit(x, y, batch_size=16, epochs=8, verbose=0)
    assert not np.allclose(keras.ops.convert_to_numpy(model.layers[0].kernel), kernel0)
    losses = history.history["loss"]
    assert losses[-1] < 0.5 * losses[0]
