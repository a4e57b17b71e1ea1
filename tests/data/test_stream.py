"""Streamed image input (``image_input="stream"``): files and tfds shards decoded while
training, the same pixels and the same training stream as images held in memory."""

import json
import os
import subprocess
import sys

import numpy as np
import pytest
import tensorflow as tf
import tensorflow_datasets as tfds

from tfssl.data import (FileImages, ImageData, TfdsImages, load_images, load_train_test,
                        views_dataset)
from tfssl.data import images as images_module
from tfssl.errors import UsageError

VIEW = dict(image_size=8, min_scale=0.3, color_jitter=0.5, flip=True)


def _write_tree(root, per_class=12, classes=("a", "b", "c"), gray=False, seed=0):
    """Class folders of PNGs and JPEGs of several sizes (gray or colour)."""
    rng = np.random.default_rng(seed)
    for c in classes:
        (root / c).mkdir(parents=True)
        for i in range(per_class):
            img = rng.integers(0, 255, (9 + i % 5, 11 + i % 3, 1 if gray else 3), np.uint8)
            enc = tf.io.encode_png(img) if i % 2 else tf.io.encode_jpeg(img)
            (root / c / f"{i:03d}.{'png' if i % 2 else 'jpg'}").write_bytes(enc.numpy())
    return root


def _as_numpy(ds):
    return [tf.nest.map_structure(lambda t: t.numpy(), b) for b in ds]


def _assert_same(a, b):
    assert len(a) == len(b)
    for x, y in zip(a, b):
        tf.nest.map_structure(np.testing.assert_array_equal, x, y)


@pytest.mark.parametrize("gray", [False, True])
def test_streamed_folder_decodes_the_pixels_of_the_in_memory_path(tmp_path, gray):
    root = _write_tree(tmp_path / "imgs", gray=gray)
    memory = load_images(f"folder:{root}", image_size=10, split="all")
    stream = load_images(f"folder:{root}", image_size=10, split="all", image_input="stream")
    assert isinstance(memory, ImageData) and isinstance(stream, FileImages)
    assert not stream.in_memory and stream.image_shape == memory.image_shape
    assert stream.image_shape[-1] == (1 if gray else 3)
    np.testing.assert_array_equal(stream.labels, memory.labels)
    np.testing.assert_array_equal(stream.materialize().images, memory.images)
    # The held-out split is the same images in both paths.
    held = load_images(f"folder:{root}", image_size=10, split="test", image_input="stream")
    np.testing.assert_array_equal(
        held.materialize().images,
        load_images(f"folder:{root}", image_size=10, split="test").images)


def test_streamed_folder_trains_on_the_stream_of_the_in_memory_path(tmp_path):
    """Same seed: the same permutation per epoch and the same views, batch for batch;
    every iterator replays it; each epoch visits distinct images."""
    root = _write_tree(tmp_path / "imgs")
    memory = load_images(f"folder:{root}", image_size=10, split="all")
    stream = load_images(f"folder:{root}", image_size=10, split="all", image_input="stream")
    make = lambda src: views_dataset(src, 8, [VIEW, VIEW], seed=3, with_index=True,
                                     epochs=2)
    got = _as_numpy(make(stream))
    _assert_same(got, _as_numpy(make(memory)))
    _assert_same(got, _as_numpy(make(stream)))
    assert len(got) == 2 * (36 // 8)
    first = np.concatenate([b[1] for b in got[:4]])
    second = np.concatenate([b[1] for b in got[4:]])
    assert len(set(first)) == 32 and len(set(second)) == 32
    assert not np.array_equal(first, second)


def test_auto_streams_what_would_not_fit_and_archives_never_stream(tmp_path, monkeypatch):
    import tarfile

    root = _write_tree(tmp_path / "imgs")
    assert isinstance(load_images(f"folder:{root}", image_size=10, image_input="auto"),
                      ImageData)
    monkeypatch.setattr(images_module, "MEMORY_LIMIT_BYTES", 100)
    assert isinstance(load_images(f"folder:{root}", image_size=10, image_input="auto"),
                      FileImages)
    archive = tmp_path / "imgs.tar.gz"
    with tarfile.open(archive, "w:gz") as tar:
        tar.add(root, arcname="train")
    assert isinstance(load_images(f"folder:{archive}", image_size=10, image_input="auto"),
                      ImageData)
    with pytest.raises(UsageError, match="an archive cannot be streamed"):
        load_images(f"folder:{archive}", image_size=10, image_input="stream")
    with pytest.raises(UsageError, match="--image_input='disk': expected one of"):
        load_images(f"folder:{root}", image_input="disk")


class TinyStream(tfds.core.GeneratorBasedBuilder):
    """40 train / 12 test distinct 8x8 colour images, 4 classes, in 3 shards."""

    VERSION = tfds.core.Version("1.0.0")

    def _info(self):
        return tfds.core.DatasetInfo(
            builder=self, features=tfds.features.FeaturesDict({
                "image": tfds.features.Image(shape=(8, 8, 3)),
                "label": tfds.features.ClassLabel(num_classes=4)}),
            supervised_keys=("image", "label"))

    def _split_generators(self, dl_manager):
        return {"train": self._generate_examples(0, 40),
                "test": self._generate_examples(1, 12)}

    def _generate_examples(self, seed, n):
        rng = np.random.default_rng(seed)
        for i in range(n):
            yield i, {"image": rng.integers(0, 255, (8, 8, 3), np.uint8), "label": i % 4}


@pytest.fixture(scope="module")
def tfds_dir(tmp_path_factory):
    root = tmp_path_factory.mktemp("tfds_stream")
    TinyStream(data_dir=str(root)).download_and_prepare()
    return str(root)


def test_tfds_stream_matches_memory_and_shuffles_in_a_bounded_buffer(tfds_dir):
    spec = "tfds:tiny_stream"
    memory = load_images(spec, image_size=8, split="train", data_dir=tfds_dir)
    stream = load_images(spec, image_size=8, split="train", data_dir=tfds_dir,
                         image_input="stream")
    assert isinstance(stream, TfdsImages) and isinstance(memory, ImageData)
    np.testing.assert_array_equal(stream.labels, memory.labels)
    np.testing.assert_array_equal(stream.materialize().images, memory.images)
    np.testing.assert_array_equal(stream.subset([1, 5, 7]).materialize().images,
                                  memory.images[[1, 5, 7]])
    make = lambda: views_dataset(stream, 8, [VIEW, VIEW], seed=1, with_index=True,
                                 epochs=2, shuffle_buffer=10)
    got = _as_numpy(make())
    _assert_same(got, _as_numpy(make()))  # replayed by every iterator
    epochs = [np.concatenate([b[1] for b in got[:5]]), np.concatenate([b[1] for b in got[5:]])]
    for order in epochs:  # each pass: every image once, not in file order
        assert sorted(order) == list(range(40)) and list(order) != list(range(40))
    assert list(epochs[0]) != list(epochs[1])
    # Views of index i are views of image i.
    views, index = got[0]
    assert views[0].shape == (8, 8, 8, 3) and np.all(index < 40)


def test_tfds_held_out_split_is_the_same_streamed_or_in_memory(tfds_dir):
    spec = "tfds:tiny_stream:train"
    m_train, m_test = load_train_test(spec, image_size=8, data_dir=tfds_dir)
    s_train, s_test = load_train_test(spec, image_size=8, data_dir=tfds_dir,
                                      image_input="stream")
    assert (len(s_train), len(s_test)) == (36, 4)
    for s, m in ((s_train, m_train), (s_test, m_test)):
        np.testing.assert_array_equal(s.labels, m.labels)
        np.testing.assert_array_equal(s.materialize().images, m.images)


def test_per_replica_pipelines_hold_the_global_batches_of_one_device(tmp_path, cpu_strategy):
    """``distribute_datasets_from_function``: each replica's batch comes from its own
    pipeline (per-replica batch size from the InputContext), and the replicas of a step
    hold, together, exactly the global batch of one device, views included."""
    root = _write_tree(tmp_path / "imgs")
    stream = load_images(f"folder:{root}", image_size=10, split="all", image_input="stream")
    make = lambda ctx: views_dataset(stream, 8, [VIEW, VIEW], seed=5, with_index=True,
                                     epochs=2, input_context=ctx)
    single = _as_numpy(make(None))
    dist = cpu_strategy.distribute_datasets_from_function(make)
    steps = []
    for batch in dist:
        parts = [tf.nest.map_structure(lambda t: t.numpy(), p) for p in
                 cpu_strategy.experimental_local_results(batch)]
        assert parts[0][1].shape == (4,)  # the per-replica batch
        steps.append(tf.nest.map_structure(lambda *x: np.concatenate(x), *parts))
    _assert_same(steps, single)


def _digits_folder(root, n=240):
    from sklearn.datasets import load_digits

    d = load_digits()
    for i in range(n):
        folder = root / str(d.target[i])
        folder.mkdir(parents=True, exist_ok=True)
        img = (d.images[i] / 16 * 255).round().astype(np.uint8)[..., None]
        (folder / f"{i}.png").write_bytes(tf.io.encode_png(img).numpy())
    return root


def test_cli_mirrored_streamed_folder_matches_one_device_in_memory(tmp_path):
    """``tfssl-pretrain --image_input=stream --strategy=mirrored --num_cpu_replicas=2``
    (per-replica pipelines reading the files) trains like one device holding the
    images in memory."""
    from tfssl.presets import resolve_settings
    from tfssl.runs import pretrain

    data = _digits_folder(tmp_path / "digits")
    settings = dict(method="simclr", dataset=f"folder:{data}", encoder="convnet", width=0.25,
                    image_size=8, epochs=2, steps_per_epoch=3, batch_size=16,
                    projection_dim=8, projection_hidden_dim=16)
    # The one-device reference: the library call the command line makes, in this process.
    pretrain(resolve_settings(**settings, image_input="memory",
                              model_dir=str(tmp_path / "memory")))
    proc = subprocess.run([sys.executable, "-m", "tfssl.cli.pretrain",
                           *(f"--{k}={v}" for k, v in settings.items()),
                           "--image_input=stream", "--strategy=mirrored",
                           "--num_cpu_replicas=2", f"--model_dir={tmp_path / 'stream'}"],
                          capture_output=True, text=True, timeout=300,
                          env=dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2"))
    assert proc.returncode == 0, proc.stderr[-3000:]
    runs = {label: tuple(json.loads((tmp_path / label / f).read_text())
                         for f in ("metrics.json", "config.json"))
            for label in ("memory", "stream")}
    (mem, mem_cfg), (st, st_cfg) = runs["memory"], runs["stream"]
    assert mem_cfg["image_input"] == "memory" and st_cfg["image_input"] == "stream"
    assert mem["steps"] == st["steps"] == 6
    assert st["final_loss"] == pytest.approx(mem["final_loss"], rel=1e-4)
    assert st["knn_top1"] == mem["knn_top1"]


def test_disk_cache_keeps_the_pixels_and_is_reused(tmp_path, tfds_dir):
    """``image_cache_dir``: each image decoded and resized once into small PNGs (a tfds
    split then gets random access); the cached stream has the pixels and the training
    stream of the uncached one; a second load reuses the files; a changed file makes a
    new cache."""
    root = _write_tree(tmp_path / "imgs")
    cache = tmp_path / "cache"
    plain = load_images(f"folder:{root}", image_size=10, split="all", image_input="stream")
    cached = load_images(f"folder:{root}", image_size=10, split="all", image_input="stream",
                         image_cache_dir=str(cache))
    assert isinstance(cached, FileImages) and str(cache) in cached.paths[0]
    np.testing.assert_array_equal(cached.materialize().images, plain.materialize().images)
    np.testing.assert_array_equal(cached.labels, plain.labels)
    make = lambda src: views_dataset(src, 8, [VIEW, VIEW], seed=3, epochs=1)
    _assert_same(_as_numpy(make(cached)), _as_numpy(make(plain)))
    (key,) = [p.name for p in cache.iterdir()]
    stamp = os.stat(cached.paths[0]).st_mtime_ns
    again = load_images(f"folder:{root}", image_size=10, split="all", image_input="stream",
                        image_cache_dir=str(cache))
    assert list(again.paths) == list(cached.paths)
    assert os.stat(again.paths[0]).st_mtime_ns == stamp  # not rewritten
    first = sorted((root / "a").iterdir())[0]
    first.write_bytes(tf.io.encode_png(np.zeros((9, 9, 3), np.uint8)).numpy())
    load_images(f"folder:{root}", image_size=10, split="all", image_input="stream",
                image_cache_dir=str(cache))
    assert len(list(cache.iterdir())) == 2 and not list(cache.glob("*.tmp-*"))
    # A tfds split: cached into files, read by index.
    tfds_cached = load_images("tfds:tiny_stream", image_size=8, split="train",
                              data_dir=tfds_dir, image_input="stream",
                              image_cache_dir=str(tmp_path / "tcache"))
    memory = load_images("tfds:tiny_stream", image_size=8, split="train", data_dir=tfds_dir)
    assert isinstance(tfds_cached, FileImages)
    np.testing.assert_array_equal(tfds_cached.materialize().images, memory.images)
    np.testing.assert_array_equal(tfds_cached.labels, memory.labels)


def test_streamed_file_that_is_not_an_image_is_one_line_naming_it(tmp_path):
    """A streamed file that is not an image (here: text saved as .jpg, not in the
    64-file channel sample) stops ``tfssl-pretrain`` with one line naming the file and
    exit code 2, not TensorFlow's decode error; no run directory is left behind as a
    finished run (no metrics.json, no export)."""
    from tfssl.errors import input_error_line

    root = _write_tree(tmp_path / "imgs", per_class=40)  # 120 files, 64 sampled
    paths = sorted(str(p) for p in root.rglob("*.*"))
    sampled = set(np.unique(np.linspace(0, len(paths) - 1, 64).astype(int)))
    bad = next(p for i, p in enumerate(paths) if i not in sampled and p.endswith(".jpg"))
    with open(bad, "wb") as f:
        f.write(b"this is a text file, not a JPEG\n")

    # The library: the pipeline's error carries the marker; the line names the file.
    stream = load_images(f"folder:{root}", image_size=8, split="all", image_input="stream")
    with pytest.raises(tf.errors.InvalidArgumentError) as err:
        _as_numpy(stream.images_dataset().batch(200))
    assert input_error_line(err.value) == (f"unreadable image {bad}: not a valid "
                                           "JPEG/PNG/BMP/GIF file")
    assert input_error_line(ValueError("something else")) is None

    run = tmp_path / "run"
    proc = subprocess.run(
        [sys.executable, "-m", "tfssl.cli.pretrain", "--method=simclr",
         f"--dataset=folder:{root}", "--image_input=stream", "--encoder=convnet",
         "--width=0.25", "--image_size=8", "--epochs=1", "--batch_size=16",
         "--projection_dim=8", "--projection_hidden_dim=16", f"--model_dir={run}"],
        capture_output=True, text=True, timeout=300,
        env=dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3"))
    assert proc.returncode == 2, proc.stderr[-3000:]
    last = proc.stderr.strip().splitlines()[-1]
    assert last == (f"tfssl-pretrain: error: unreadable image {bad}: not a valid "
                    "JPEG/PNG/BMP/GIF file"), proc.stderr[-3000:]
    assert "Traceback" not in proc.stderr
    assert not (run / "metrics.json").exists() and not (run / "export").exists()


@pytest.mark.parametrize("cached", [False, True])
def test_streamed_file_with_a_damaged_body_is_one_line_naming_it(tmp_path, cached):
    """A file that starts like a JPEG but is cut short passes the header check; the
    decoder's error names no file. It was a traceback from fit (exit 1), and with
    --image_cache_dir it left the half-written cache folder behind."""
    from suite_helpers import raises_one_line_usage_error

    from tfssl.presets import resolve_settings
    from tfssl.runs import pretrain

    root = _write_tree(tmp_path / "imgs", per_class=40)
    paths = sorted(str(p) for p in root.rglob("*.*"))
    sampled = set(np.unique(np.linspace(0, len(paths) - 1, 64).astype(int)))
    bad = next(p for i, p in enumerate(paths) if i not in sampled and p.endswith(".jpg"))
    with open(bad, "rb") as f:
        head = f.read(40)
    with open(bad, "wb") as f:
        f.write(head)
    run, cache = tmp_path / "run", tmp_path / "cache"
    settings = resolve_settings(
        dataset=f"folder:{root}", image_input="stream", encoder="convnet", width=0.25,
        image_size=8, epochs=1, batch_size=16, projection_dim=8, projection_hidden_dim=16,
        model_dir=str(run), image_cache_dir=str(cache) if cached else None)
    with raises_one_line_usage_error(f"unreadable image {bad}: not a valid"):
        pretrain(settings)
    # No run files; what stays is the TensorBoard log and the resume record of a run
    # that stopped in its first epoch (no checkpoint: other settings may start there).
    assert not run.exists() or set(os.listdir(run)) <= {"logs", "backup"}
    if cached:
        assert os.listdir(cache) == []
