"""Each benchmark script runs end to end on the smallest settings and prints one JSON line.

No timing is asserted: speed is measured by running the benchmarks, not by tests.
"""

import collections
import io
import json
import os
import subprocess
import sys
import tarfile

import pytest

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BENCH = os.path.join(REPO, "benchmarks")
ARCHIVE = os.path.normpath(os.path.join(REPO, "..", "shared", "data", "cifar10",
                                        "train.tar.gz"))


def run_script(name, *args, timeout=180):
    proc = subprocess.run([sys.executable, os.path.join(BENCH, name), *args],
                          capture_output=True, text=True, timeout=timeout, cwd=REPO)
    assert proc.returncode == 0, proc.stderr[-3000:]
    lines = proc.stdout.splitlines()
    assert len(lines) == 1, f"expected one JSON line on stdout, got: {proc.stdout!r}"
    return json.loads(lines[0])


def test_simclr_throughput_smoke():
    out = run_script("simclr_throughput.py", "--encoder=convnet", "--width=0.25",
                     "--batch_size=4", "--steps=1", "--warmup_steps=1", "--image_size=16",
                     "--jit_compile=false", "--threads=0", "--profile")
    assert out["benchmark"] == "simclr_throughput"
    assert {"encoder", "batch_size", "images_per_s", "step_ms", "jit_compile", "precision",
            "tf"} <= set(out)
    assert out["encoder"] == "convnet" and out["batch_size"] == 4
    assert out["jit_compile"] is False and out["precision"] == "float32"
    assert out["images_per_s"] > 0 and out["step_ms"] > 0
    # The profiler's op table: the convolutions are among the op types timed.
    profile = out["profile"]
    assert profile["all_ops_ms"] > 0 and 0 < len(profile["ops_ms"]) <= 8
    assert any("Conv2D" in name for name in profile["ops_ms"]), profile


def test_mlm_throughput_smoke():
    out = run_script("mlm_throughput.py", "--encoder=bert_tiny", "--batch_size=2",
                     "--max_length=16", "--vocab_size=64", "--mask_slots=2", "--steps=1",
                     "--warmup_steps=1", "--profile")
    assert out["benchmark"] == "mlm_throughput" and out["tokens_per_s"] > 0
    assert (out["batch_size"], out["max_length"], out["precision"]) == (2, 16, "float32")
    assert any("MatMul" in name for name in out["profile"]["ops_ms"]), out["profile"]


def test_ntxent_throughput_smoke():
    out = run_script("ntxent_throughput.py", "--batch_size=8", "--dim=4", "--steps=1",
                     "--warmup_steps=1", "--threads=0")
    assert out["benchmark"] == "ntxent_throughput"
    assert {"batch_size", "dim", "ms_per_step", "jit_compile", "tf"} <= set(out)
    assert out["embeddings"] == 16 and out["ms_per_step"] > 0
    assert out["path"] == "blocked"  # the default path of NTXent without XLA
    xla = run_script("ntxent_throughput.py", "--batch_size=8", "--dim=4", "--steps=1",
                     "--warmup_steps=1", "--threads=0", "--jit_compile")
    assert xla["path"] == "dense" and xla["jit_compile"] is True


def _tiny_archive(path, per_class):
    """The first ``per_class`` images of every class of the shared archive, as a .tar.gz."""
    count = collections.Counter()
    with tarfile.open(ARCHIVE, "r|gz") as src, tarfile.open(path, "w:gz") as dst:
        for member in src:
            if not member.isfile():
                continue
            cls = os.path.basename(os.path.dirname(member.name))
            if count[cls] < per_class:
                count[cls] += 1
                dst.addfile(member, io.BytesIO(src.extractfile(member).read()))
    return path


@pytest.mark.skipif(not os.path.isfile(ARCHIVE), reason=f"no CIFAR-10 archive at {ARCHIVE}")
def test_simclr_cifar10_smoke(tmp_path):
    archive = _tiny_archive(str(tmp_path / "tiny.tar.gz"), per_class=10)
    out = run_script("simclr_cifar10.py", f"--archive={archive}", "--minutes=0.01",
                     "--limit=40", "--batch_size=8", "--image_size=16", "--width=0.25",
                     "--knn_k=5", "--jit_compile=false")
    assert out["benchmark"] == "simclr_cifar10"
    assert {"encoder", "batch_size", "minutes", "steps", "epochs", "images_seen",
            "knn_top1", "knn_top1_random_init"} <= set(out)
    assert out["train_images"] == 40 and out["test_images"] == 10
    assert out["steps"] >= 1 and out["images_seen"] == 8 * out["steps"]
    assert 0.0 <= out["knn_top1"] <= 1.0 and 0.0 <= out["knn_top1_random_init"] <= 1.0


def test_simclr_cifar10_missing_archive(tmp_path):
    proc = subprocess.run([sys.executable, os.path.join(BENCH, "simclr_cifar10.py"),
                           f"--archive={tmp_path / 'absent.tar.gz'}"],
                          capture_output=True, text=True, timeout=120, cwd=REPO)
    assert proc.returncode == 2
    assert proc.stdout == ""
    assert "absent.tar.gz" in proc.stderr.strip().splitlines()[-1]


@pytest.mark.skipif(not os.path.isfile(ARCHIVE), reason=f"no CIFAR-10 archive at {ARCHIVE}")
def test_methods_cifar10_smoke(tmp_path):
    """One JSON line per method, through the library runner."""
    archive = _tiny_archive(str(tmp_path / "tiny.tar.gz"), per_class=10)
    proc = subprocess.run(
        [sys.executable, os.path.join(BENCH, "methods_cifar10.py"), f"--archive={archive}",
         "--minutes=0.01", "--methods=simclr,vicreg", "--batch_size=8", "--image_size=16",
         "--width=0.25", "--knn_k=5", "--settings=projection_dim=8,projection_hidden_dim=16",
         f"--work_dir={tmp_path / 'runs'}"],
        capture_output=True, text=True, timeout=300, cwd=REPO)
    assert proc.returncode == 0, proc.stderr[-3000:]
    lines = [json.loads(line) for line in proc.stdout.splitlines()]
    assert [line["method"] for line in lines] == ["simclr", "vicreg"]
    for out in lines:
        assert out["benchmark"] == "methods_cifar10" and out["steps"] >= 1
        assert 0.0 <= out["knn_top1"] <= 1.0 and 0.0 <= out["knn_top1_random_init"] <= 1.0
        assert out["preset"] == f"{out['method']}_cifar10" and out["projection_dim"] == 8
    # The same --work_dir again: its finished runs are replaced only with --overwrite.
    again = subprocess.run(
        [*proc.args[:4], "--methods=simclr", *proc.args[5:], "--overwrite"],
        capture_output=True, text=True, timeout=300, cwd=REPO)
    assert again.returncode == 0, again.stderr[-3000:]
    assert [json.loads(line)["method"] for line in again.stdout.splitlines()] == ["simclr"]


def _run_build_zoo(tmp_path, *args, timeout=300):
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(
        [REPO] + [p for p in os.environ.get("PYTHONPATH", "").split(os.pathsep) if p]))
    return subprocess.run([sys.executable, os.path.join(BENCH, "build_zoo.py"), *args],
                          capture_output=True, text=True, timeout=timeout,
                          cwd=str(tmp_path), env=env)


def test_build_zoo_smoke(tmp_path):
    """A tiny digits entry, trained, evaluated, packed and written into results.py;
    run from outside the checkout."""
    import runpy

    results = tmp_path / "results.py"
    original = open(os.path.join(REPO, "tfssl", "zoo", "results.py"),
                    encoding="utf-8").read()
    results.write_text(original, encoding="utf-8")
    proc = _run_build_zoo(
        tmp_path, f"--out={tmp_path / 'zoo'}", "--entries=deepcluster_digits",
        "--settings=epochs=1,steps_per_epoch=1,batch_size=32,encoder=convnet,width=0.25,"
        "num_clusters=10,jit_compile=false", "--eval_settings=linear_epochs=2",
        f"--write_results={results}")
    assert proc.returncode == 0, proc.stderr[-3000:]
    lines = [json.loads(line) for line in proc.stdout.splitlines()]
    assert len(lines) == 1, proc.stdout
    out = lines[0]
    assert out["benchmark"] == "build_zoo" and out["entry"] == "deepcluster_digits"
    assert out["method"] == "deepcluster" and out["encoder"] == "convnet"
    assert 0.0 <= out["knn_top1"] <= 1.0 and 0.0 <= out["linear_top1"] <= 1.0
    assert out["wall_seconds"] > 0 and out["steps"] == 1
    entry = tmp_path / "zoo" / "deepcluster_digits"
    for name in ("encoder.keras", "card.json", "README.md", "saved_model"):
        assert (entry / name).exists(), name
    card = json.loads((entry / "card.json").read_text(encoding="utf-8"))
    assert card["name"] == "deepcluster_digits"
    assert [e["linear_top1"] for e in card["evaluations"]] == [out["linear_top1"]]
    # The written file keeps results.py's docstring and holds the card's numbers.
    written = results.read_text(encoding="utf-8")
    assert written.startswith(original.split("RESULTS =")[0])
    got = runpy.run_path(str(results))["RESULTS"]
    before = runpy.run_path(os.path.join(REPO, "tfssl", "zoo", "results.py"))["RESULTS"]
    assert set(got) == set(before) | {"deepcluster_digits"}  # merged, others kept
    assert all(got[k] == v for k, v in before.items() if k != "deepcluster_digits")
    row = got["deepcluster_digits"]
    assert row["knn_top1"] == out["knn_top1"] and row["linear_top1"] == out["linear_top1"]
    assert row["train_seconds"] == card["training"]["train_seconds"]
    assert row["hardware"]["cpu_cores"] == card["hardware"]["cpu_cores"]
    from tfssl.zoo import format_results

    assert format_results(row).startswith(f"knn {row['knn_top1']:.3f}")
    # --reuse_run adopts the finished run (a copy) instead of training it again.
    run = tmp_path / "zoo" / "_runs" / "deepcluster_digits"
    proc = _run_build_zoo(
        tmp_path, f"--out={tmp_path / 'zoo2'}", "--entries=deepcluster_digits",
        f"--reuse_run=deepcluster_digits={run}", "--protocol=knn")
    assert proc.returncode == 0, proc.stderr[-3000:]
    reused = json.loads(proc.stdout.splitlines()[0])
    assert reused["reused_run"] == str(run) and reused["steps"] == 1
    assert reused["train_seconds"] == out["train_seconds"]
    assert "RESULTS" in proc.stdout  # the literal to paste, without --write_results
    assert (tmp_path / "zoo2" / "deepcluster_digits" / "encoder.keras").exists()


def test_build_zoo_missing_data(tmp_path):
    """Catalogue paths resolve against --checkout; absent data: one line, exit 2."""
    checkout = tmp_path / "elsewhere" / "repo"
    checkout.mkdir(parents=True)
    proc = _run_build_zoo(tmp_path, f"--out={tmp_path / 'zoo'}",
                          "--entries=simclr_cifar10_convnet", f"--checkout={checkout}",
                          timeout=120)
    assert proc.returncode == 2, proc.stderr[-3000:]
    assert proc.stdout == ""
    last = proc.stderr.strip().splitlines()[-1]
    assert str(tmp_path / "elsewhere" / "shared" / "data" / "cifar10") in last
    assert not (tmp_path / "zoo").exists()


def test_build_zoo_refuses_out_inside_checkout(tmp_path):
    proc = _run_build_zoo(tmp_path, f"--out={os.path.join(REPO, 'zoo-out')}",
                          "--entries=deepcluster_digits", timeout=120)
    assert proc.returncode == 2 and proc.stdout == ""
    assert "outside" in proc.stderr.strip().splitlines()[-1]
    assert not os.path.exists(os.path.join(REPO, "zoo-out"))

def test_mlm_transfer_smoke(tmp_path, monkeypatch):
    """Runner pretraining, keras-hub at equal steps, the label-fraction transfer curve:
    one JSON line, on tiny text (no shared data needed)."""
    monkeypatch.setenv("TFSSL_CACHE", str(tmp_path / "cache"))
    words = ["quick", "slow", "tiny", "large", "clever", "plain"]
    (tmp_path / "train.txt").write_text("\n".join(
        f"line {i}: the {w} model reads text and predicts the masked {w} words"
        for i, w in enumerate(words * 8)))
    (tmp_path / "valid.txt").write_text("\n".join(
        f"the {w} model reads the {w} words" for w in words))
    pos, neg = ["a wonderful film", "great acting", "loved it", "a joy"], \
        ["a dull film", "terrible acting", "hated it", "a chore"]
    (tmp_path / "sst.txt").write_text("".join(f"1 {p}\n0 {n}\n" for p, n in
                                              zip(pos * 3, neg * 3)))
    out = run_script(
        "mlm_transfer.py", f"--train_text=textfile:{tmp_path / 'train.txt'}",
        f"--valid_text=textfile:{tmp_path / 'valid.txt'}",
        f"--train_file=labeled_text:{tmp_path / 'sst.txt'}",
        f"--eval_file=labeled_text:{tmp_path / 'sst.txt'}", "--minutes=0.02",
        "--max_epochs=1", "--vocab_size=120", "--max_length=16", "--batch_size=4",
        "--precision=float32", "--nojit_compile", "--fractions=0.5",
        "--finetune_lrs=1e-3", "--finetune_steps=2", "--finetune_batch_size=4",
        "--finetune_max_length=16", "--select_size=4", f"--model_dir={tmp_path / 'run'}",
        "--task_text_weight=2", "--mask_rate=0.3", "--max_span_length=3",
        "--finetune_seeds=0", timeout=600)
    assert out["benchmark"] == "mlm_transfer" and out["pretrain_steps"] >= 1
    # Task-adaptive pretraining: the labelled file's sentences twice, after the text.
    assert out["pretrain_text"] == ["textfile:train.txt"] + ["labeled_text:sst.txt"] * 2
    assert out["jit_compile"] is False and out["mask_rate"] == 0.3
    assert out["max_span_length"] == 3
    assert 0.0 <= out["mlm_masked_accuracy"] <= 1.0
    assert 0.0 <= out["kerashub_masked_accuracy"] <= 1.0
    for side in ("pretrained", "scratch"):  # one fraction here, 1.0 in the second run
        assert 0.0 <= out[f"sst2_f0.5_{side}"] <= 1.0
        assert out[f"sst2_f0.5_{side}_lr"] == 1e-3
    assert "sst2_f1_pretrained" not in out
    # The transfer half again on the finished run, over two seeds: means, spreads, gains.
    common = [f"--train_file=labeled_text:{tmp_path / 'sst.txt'}",
              f"--eval_file=labeled_text:{tmp_path / 'sst.txt'}", "--fractions=1.0",
              "--finetune_lrs=1e-3", "--finetune_steps=2", "--finetune_batch_size=4",
              "--finetune_max_length=16", "--select_size=4", "--nokerashub",
              f"--model_dir={tmp_path / 'run'}", "--reuse_run"]
    again = run_script("mlm_transfer.py", *common, "--finetune_seeds=0,1",
                       "--reinit_layers=1", "--finetune_select_every=1",
                       "--layer_decay=0.8,1", "--finetune_head_steps=1", timeout=300)
    assert again["pretrain_steps"] == out["pretrain_steps"] and again["reinit_layers"] == 1
    assert again["pretrain_text"] == out["pretrain_text"]  # the run's, not the flags'
    assert again["finetune_select_every"] == 1
    assert again["layer_decay"] == [0.8, 1.0] and again["finetune_head_steps"] == 1
    for side in ("pretrained", "scratch"):  # the kept step of each seed's chosen rate
        assert all(step in (1, 2) for step in again[f"sst2_f1_{side}_step"])
        assert all(d in (0.8, 1.0) for d in again[f"sst2_f1_{side}_decay"])
    assert again["mlm_masked_accuracy"] == out["mlm_masked_accuracy"]
    assert again["max_length"] == 16 and again["finetune_seeds"] == [0, 1]
    for side in ("pretrained", "scratch"):
        seeds = again[f"sst2_f1_{side}_seeds"]
        assert len(seeds) == 2 and again[f"sst2_f1_{side}_lr"] == [1e-3, 1e-3]
        assert abs(again[f"sst2_f1_{side}"] - sum(seeds) / 2) < 1e-3
        assert again[f"sst2_f1_{side}_std"] >= 0.0
    assert abs(again["sst2_f1_gain"] - (again["sst2_f1_pretrained"]
                                        - again["sst2_f1_scratch"])) < 1e-3
    # Bad input: one line, exit 2, before any pretraining (one call, for the suite's time).
    bad = subprocess.run([sys.executable, os.path.join(BENCH, "mlm_transfer.py"), *common,
                          "--finetune_seeds=0,x"],
                         capture_output=True, text=True, timeout=120, cwd=REPO)
    assert bad.returncode == 2 and bad.stdout == ""
    assert bad.stderr.strip().splitlines()[-1] == (
        "mlm_transfer: error: --finetune_seeds=0,x: expected integers")


@pytest.mark.skipif(not os.path.isfile(ARCHIVE), reason=f"no CIFAR-10 archive at {ARCHIVE}")
def test_input_benchmarks_smoke(tmp_path):
    """input_memory.py (a child run per input, its peak RSS) and input_throughput.py
    (the pipeline alone, streamed and in memory, against the train step)."""
    out = run_script("input_memory.py", "--sizes=20", "--inputs=stream",
                     f"--work_dir={tmp_path}", "--batch_size=8", timeout=300)
    assert out["benchmark"] == "input_memory"
    (row,) = out["rows"]
    assert row["images"] == 20 and row["image_input"] == "stream"
    assert row["peak_rss_mib"] > 0 and row["steps"] == 18 // 8
    out = run_script("input_throughput.py", "--images=20", f"--work_dir={tmp_path}",
                     "--encoder=convnet", "--width=0.25", "--batch_size=4", "--batches=1",
                     "--warmup_batches=1", "--steps=1", timeout=300)
    assert out["benchmark"] == "input_throughput"
    assert out["pipeline_stream_images_per_s"] > 0 and out["train_step_images_per_s"] > 0
    assert out["bottleneck"] in ("model", "pipeline")


def test_conv_gradients_smoke():
    out = run_script("conv_gradients.py", "--batch_size=2", "--image_size=8",
                     "--width=0.0625", "--repeats=1", "--threads=0")
    assert out["benchmark"] == "conv_gradients" and len(out["shapes"]) == 10
    first = out["shapes"][0]
    assert (first["in"], first["side"], first["stride"]) == (4, 8, 1)
    assert first["tfssl_input_grad_ms"] > 0 and first["tf_input_grad_ms"] > 0


def test_masking_throughput_smoke():
    out = run_script("masking_throughput.py", "--batch_size=4", "--max_length=16",
                     "--vocab_size=50", "--batches=2", "--threads=0")
    assert out["benchmark"] == "masking_throughput" and out["max_length"] == 16
    for key in ("tfssl_batches_per_s", "tfssl_whole_word_batches_per_s",
                "kerashub_batches_per_s", "ratio"):
        assert out[key] > 0, key
