"""warmup_cosine values, lr scaling, and build_optimizer."""

import keras
import numpy as np
import pytest

from tfssl.errors import UsageError
from tfssl.optimizers import LARS, build_optimizer, scale_learning_rate, warmup_cosine


def _lr(schedule, step):
    return float(keras.ops.convert_to_numpy(schedule(step)))


def test_warmup_cosine_values():
    s = warmup_cosine(0.4, total_steps=100, warmup_steps=10)
    assert _lr(s, 0) == pytest.approx(0.0)
    assert _lr(s, 5) == pytest.approx(0.2)
    assert _lr(s, 10) == pytest.approx(0.4)
    assert _lr(s, 55) == pytest.approx(0.2, rel=1e-5)  # half-way through the decay
    assert _lr(s, 100) == pytest.approx(0.0, abs=1e-7)
    assert _lr(s, 150) == pytest.approx(0.0, abs=1e-7)


def test_warmup_cosine_without_warmup_and_serialisation():
    s = warmup_cosine(1.0, total_steps=4)
    assert [round(_lr(s, i), 6) for i in range(5)] == pytest.approx(
        [1.0, 0.853553, 0.5, 0.146447, 0.0], abs=1e-6)
    s = warmup_cosine(0.4, total_steps=100, warmup_steps=10)
    clone = keras.optimizers.schedules.deserialize(keras.optimizers.schedules.serialize(s))
    for step in (0, 7, 10, 60, 100):
        assert _lr(clone, step) == pytest.approx(_lr(s, step))


@pytest.mark.parametrize("total,warmup", [(0, 0), (10, 10), (10, -1)])
def test_warmup_cosine_bad_arguments(total, warmup):
    with pytest.raises(UsageError):
        warmup_cosine(0.1, total, warmup)


def test_scale_learning_rate():
    assert scale_learning_rate(0.3, 512) == pytest.approx(0.6)
    assert scale_learning_rate(0.075, 4096, "sqrt") == pytest.approx(0.075 * 64)
    with pytest.raises(UsageError):
        scale_learning_rate(0.1, 256, "cubic")


@pytest.mark.parametrize("name,cls", [("adam", keras.optimizers.Adam),
                                      ("adamw", keras.optimizers.AdamW),
                                      ("sgd", keras.optimizers.SGD),
                                      ("LARS", LARS)])
def test_build_optimizer(name, cls):
    opt = build_optimizer(name, 0.5, total_steps=20, warmup_steps=5, weight_decay=1e-4)
    assert type(opt) is cls
    assert isinstance(opt.learning_rate, keras.Variable) or opt.learning_rate is not None
    sched = opt._learning_rate
    assert _lr(sched, 5) == pytest.approx(0.5)
    assert opt.weight_decay == pytest.approx(1e-4)
    var = keras.Variable(np.ones((2, 2), np.float32))
    for _ in range(2):
        opt.apply_gradients([(keras.ops.ones((2, 2)), var)])
    assert np.all(keras.ops.convert_to_numpy(var) < 1.0)


def test_build_optimizer_defaults_and_constant_lr():
    assert build_optimizer("lars", 0.1, 10).weight_decay == pytest.approx(1e-6)
    assert build_optimizer("sgd", 0.1, 10, momentum=0.5).momentum == 0.5
    opt = build_optimizer("adam", 0.01, total_steps=None)
    assert float(opt.learning_rate) == pytest.approx(0.01)


def test_build_optimizer_unknown_name():
    with pytest.raises(UsageError, match=r"--optimizer.*adam, adamw, sgd, lars"):
        build_optimizer("rmsprop", 0.1, 10)
