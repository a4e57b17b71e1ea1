"""The CPU XLA choice of text runs: both train steps timed on this machine, cached."""

import json

import numpy as np
import pytest

from tfssl.errors import UsageError
from tfssl.runs import machine

BATCH = (np.ones((16, 8), "float32"), np.zeros((16, 4), "float32"))


def _measure_dense():
    return machine.measure_xla_speedup(_dense, BATCH)


def _dense(jit_compile):
    import keras

    model = keras.Sequential([keras.Input((8,)), keras.layers.Dense(4)])
    model.compile(optimizer="sgd", loss="mse", jit_compile=jit_compile)
    return model


def test_measure_xla_speedup_trains_both_models():
    built = []

    def make(jit_compile):
        built.append(_dense(jit_compile))
        return built[-1]

    speedup = machine.measure_xla_speedup(make, BATCH, steps=2, rounds=2)
    assert speedup > 0
    assert sorted(m.jit_compile for m in built) == [False, True]
    # warm-up + 2 rounds x 2 steps each
    assert [int(m.optimizer.iterations.numpy()) for m in built] == [5, 5]


def test_cpu_xla_measured_once_and_cached(tmp_path, monkeypatch):
    monkeypatch.delenv("TFSSL_AUTO_XLA", raising=False)
    monkeypatch.setenv("TFSSL_CACHE", str(tmp_path))
    jit, speedup = machine.default_cpu_xla(["dense", (16, 8)], _measure_dense)
    assert speedup > 0 and jit == (speedup >= machine.XLA_MIN_SPEEDUP)
    (key, cached), = json.loads((tmp_path / "xla.json").read_text()).items()
    assert cached == pytest.approx(speedup, abs=1e-3)
    assert machine._cpu_model() in key and key.endswith("|dense|(16, 8)")
    # The cached answer is used as it is; another step is measured under its own key.
    monkeypatch.setattr(machine, "measure_xla_speedup",
                        lambda *args: pytest.fail("measured again"))
    for value, expected in ((0.7, False), (1.3, True)):
        (tmp_path / "xla.json").write_text(json.dumps({key: value}))
        assert machine.default_cpu_xla(["dense", (16, 8)], _measure_dense) == (
            expected, value)
    monkeypatch.setattr(machine, "measure_xla_speedup", lambda *args: 2.0)
    assert machine.default_cpu_xla(["dense", (32, 8)], _measure_dense) == (True, 2.0)
    assert len(json.loads((tmp_path / "xla.json").read_text())) == 2


def test_pinned_cpu_xla(monkeypatch):
    monkeypatch.setattr(machine, "measure_xla_speedup",
                        lambda *args: pytest.fail("measured although pinned"))
    monkeypatch.setenv("TFSSL_AUTO_XLA", "false")
    assert machine.default_cpu_xla(["dense"], _measure_dense) == (False, None)
    monkeypatch.setenv("TFSSL_AUTO_XLA", "yes")
    with pytest.raises(UsageError, match="TFSSL_AUTO_XLA='yes'"):
        machine.default_cpu_xla(["dense"], _measure_dense)


def test_text_run_measures_xla_once_then_reads_the_cache(tmp_path, monkeypatch):
    """A text run on a CPU times its own step with and without XLA before it builds the
    real model; the next run reads the cache, decides the same and, with the same seed,
    trains to the same loss (the masks used to differ from run to run without XLA)."""
    import tfssl

    monkeypatch.delenv("TFSSL_AUTO_XLA", raising=False)
    monkeypatch.setenv("TFSSL_CACHE", str(tmp_path / "cache"))
    (tmp_path / "train.txt").write_text("\n".join(
        f"line {i}: the {w} model reads text and predicts the masked {w} words again"
        for i, w in enumerate(["quick", "slow", "tiny", "large", "clever", "plain"] * 8)))

    def run(name):
        return tfssl.runs.pretrain(
            method="mlm", dataset=f"textfile:{tmp_path / 'train.txt'}",
            encoder="bert_tiny", max_length=16, vocab_size=120, epochs=1,
            steps_per_epoch=3, batch_size=4, model_dir=str(tmp_path / name))

    measured = run("measured")
    speedup = measured["xla_speedup"]
    assert measured["jit_compile"] == (speedup >= machine.XLA_MIN_SPEEDUP)
    config = json.loads((tmp_path / "measured" / "config.json").read_text())
    assert config["jit_compile"] is measured["jit_compile"]
    assert config["xla_speedup"] == speedup
    (key, _), = json.loads((tmp_path / "cache" / "xla.json").read_text()).items()
    assert "|mlm|bert_tiny|float32|" in key

    monkeypatch.setattr(machine, "measure_xla_speedup",
                        lambda *args: pytest.fail("measured again"))
    cached = run("cached")
    assert cached["xla_speedup"] == speedup and cached["jit_compile"] == measured["jit_compile"]
    assert cached["final_loss"] == measured["final_loss"]
