"""``--precision=auto``: chosen on each machine from a measurement, cached."""

import json

import pytest

from tfssl.errors import UsageError
from tfssl.runs import machine


def test_auto_precision_measures_once_and_caches(tmp_path, monkeypatch):
    monkeypatch.delenv("TFSSL_AUTO_PRECISION", raising=False)
    monkeypatch.setenv("TFSSL_CACHE", str(tmp_path))
    precision, speedup = machine.default_precision()
    assert speedup > 0
    assert precision == ("mixed_bfloat16" if speedup >= machine.BF16_MIN_SPEEDUP
                         else "float32")
    (key, cached), = json.loads((tmp_path / "precision.json").read_text()).items()
    assert cached == pytest.approx(speedup) and machine._cpu_model() in key
    # The cached answer is used as it is: no second measurement.
    monkeypatch.setattr(machine, "measure_bfloat16_speedup",
                        lambda: pytest.fail("measured again"))
    (tmp_path / "precision.json").write_text(json.dumps({key: 1.0}))
    assert machine.default_precision() == ("float32", 1.0)
    (tmp_path / "precision.json").write_text(json.dumps({key: 2.0}))
    assert machine.default_precision() == ("mixed_bfloat16", 2.0)


def test_pinned_auto_precision(monkeypatch):
    monkeypatch.setenv("TFSSL_AUTO_PRECISION", "mixed_bfloat16")
    assert machine.default_precision() == ("mixed_bfloat16", None)
    monkeypatch.setenv("TFSSL_AUTO_PRECISION", "fp8")
    with pytest.raises(UsageError, match="TFSSL_AUTO_PRECISION='fp8'"):
        machine.default_precision()
