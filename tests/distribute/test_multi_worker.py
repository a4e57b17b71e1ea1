"""NT-Xent across two real worker processes on localhost (MultiWorkerMirroredStrategy)."""

import json
import os
import pathlib
import socket
import subprocess
import sys

import numpy as np
import tensorflow as tf

from tfssl.losses import NTXent

WORKER = pathlib.Path(__file__).with_name("multi_worker_ntxent.py")


def free_ports(k):
    socks = [socket.socket() for _ in range(k)]
    for s in socks:
        s.bind(("localhost", 0))
    ports = [s.getsockname()[1] for s in socks]
    for s in socks:
        s.close()
    return ports


def test_two_workers_match_one_process(tmp_path):
    ports = free_ports(2)
    cluster = {"worker": [f"localhost:{p}" for p in ports]}
    procs = []
    for i in range(2):
        env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2",
                   TF_CONFIG=json.dumps({"cluster": cluster,
                                         "task": {"type": "worker", "index": i}}))
        procs.append(subprocess.Popen([sys.executable, str(WORKER), str(tmp_path / f"{i}.json")],
                                      env=env, stdout=subprocess.PIPE,
                                      stderr=subprocess.STDOUT, text=True))
    for p in procs:
        out, _ = p.communicate(timeout=240)
        assert p.returncode == 0, out[-3000:]
    results = [json.loads((tmp_path / f"{i}.json").read_text()) for i in range(2)]

    rng = np.random.default_rng(0)
    z1, z2 = rng.normal(size=(2, 8, 5)).astype("float32")
    loss = NTXent(0.5)
    x = tf.constant(z1)
    with tf.GradientTape() as tape:
        tape.watch(x)
        ref = loss(x, tf.constant(z2))
    ref_grad = tape.gradient(ref, x).numpy()
    for r in results:
        assert r["replicas"] == 2
        np.testing.assert_allclose(r["loss"], float(ref), rtol=1e-5)
        lo = r["task"] * 4
        np.testing.assert_allclose(np.array(r["grad"]), ref_grad[lo:lo + 4], rtol=1e-4,
                                   atol=1e-6)


TINY_RUN = ["--method=simclr", "--encoder=convnet", "--width=0.25", "--image_size=8",
            "--epochs=2", "--steps_per_epoch=2", "--batch_size=16", "--projection_dim=8",
            "--projection_hidden_dim=16", "--knn_k=5"]


def _pretrain(args, env=None):
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2", **(env or {}))
    return subprocess.Popen([sys.executable, "-m", "tfssl.cli.pretrain", *args], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


def test_pretrain_on_two_worker_processes_matches_one_process(tmp_path):
    """``tfssl-pretrain --strategy=multi_worker``: two real workers on localhost with
    ``TF_CONFIG``. Both finish; only the chief (worker 0) writes its run folder (worker
    1 is given another folder, which must stay absent); the chief's losses and kNN
    equal a single-process run of the same settings."""
    single = _pretrain([*TINY_RUN, f"--model_dir={tmp_path / 'single'}"])
    out, _ = single.communicate(timeout=300)
    assert single.returncode == 0, out[-3000:]
    ports = free_ports(2)
    cluster = {"worker": [f"localhost:{p}" for p in ports]}
    procs = [_pretrain([*TINY_RUN, "--strategy=multi_worker",
                        f"--model_dir={tmp_path / f'worker{i}'}"],
                       env={"TF_CONFIG": json.dumps({"cluster": cluster,
                                                     "task": {"type": "worker",
                                                              "index": i}})})
             for i in range(2)]
    for p in procs:
        out, _ = p.communicate(timeout=300)
        assert p.returncode == 0, out[-3000:]
    assert not (tmp_path / "worker1").exists()
    chief = tmp_path / "worker0"
    for path in ("metrics.json", "config.json", "keras/model.keras", "keras/encoder.keras",
                 "export/encoder/saved_model.pb"):
        assert (chief / path).is_file(), path
    assert not (chief / "backup").exists()  # removed by the chief at the end
    ref = json.loads((tmp_path / "single" / "metrics.json").read_text())
    got = json.loads((chief / "metrics.json").read_text())
    assert got["steps"] == ref["steps"] == 4
    np.testing.assert_allclose(got["final_loss"], ref["final_loss"], rtol=1e-4)
    assert got["knn_top1"] == ref["knn_top1"]
