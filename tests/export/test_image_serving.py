"""The image SavedModel's serve / serve_uint8 / serve_bytes signatures, called from a
fresh process that imports only TensorFlow, equal the Keras encoder on the same images
(channels converted, scaled to [0, 1] and resized the same way, written out here)."""

import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest
import tensorflow as tf

from tfssl.encoders import image_encoder
from tfssl.export import SIGNATURES, export_image_encoder, prepare_uint8_images

SIZE = 8

FRESH = textwrap.dedent("""
    import sys
    import numpy as np
    import tensorflow as tf

    path, inputs, outputs, *encoded_files = sys.argv[1:]
    data = np.load(inputs)
    encoded = [open(f, "rb").read() for f in encoded_files]
    m = tf.saved_model.load(path)
    out = {"signatures": np.array(sorted(m.signatures))}
    out["serve"] = m.serve(data["floats"]).numpy()
    out["serve_sig"] = m.signatures["serve"](images=tf.constant(data["floats"]))["output_0"]
    out["default"] = m.signatures["serving_default"](
        images=tf.constant(data["floats"]))["output_0"]
    for name in ("big", "small", "rgba"):
        out["uint8_" + name] = m.serve_uint8(data[name]).numpy()
    out["uint8_sig"] = m.signatures["serve_uint8"](images=tf.constant(data["big"]))[
        "output_0"]
    out["bytes"] = m.serve_bytes(tf.constant(encoded)).numpy()
    out["bytes_sig"] = m.signatures["serve_bytes"](images=tf.constant(encoded))["output_0"]
    out["tfssl_imported"] = np.array(any(k.startswith("tfssl") for k in sys.modules))
    np.savez(outputs, **{k: np.asarray(v) for k, v in out.items()})
""")


def _reference_prepare(images, channels):
    """What the signatures must do, written out: channels as tfssl.data.match_channels
    converts them, then / 255 and an antialiased bilinear resize."""
    images = np.asarray(images)[..., :3] if images.shape[-1] == 4 else np.asarray(images)
    if channels == 3 and images.shape[-1] == 1:
        images = np.repeat(images, 3, axis=-1)
    elif channels == 1 and images.shape[-1] == 3:
        images = tf.image.rgb_to_grayscale(images).numpy()
    x = tf.cast(images, tf.float32) / 255.0
    return tf.image.resize(x, (SIZE, SIZE), method="bilinear", antialias=True)


@pytest.mark.parametrize("channels", [1, 3])
def test_signatures_in_a_fresh_process_equal_keras(tmp_path, channels):
    rng = np.random.default_rng(channels)
    encoder = image_encoder("convnet", SIZE, channels, width=0.25)
    path = str(tmp_path / "encoder")
    export_image_encoder(encoder, path)

    other = 4 - channels  # the other channel count: gray <-> RGB conversion
    big = rng.integers(0, 256, (2, 21, 13, other), dtype=np.uint8)
    small = rng.integers(0, 256, (3, 5, 6, channels), dtype=np.uint8)
    rgba = rng.integers(0, 256, (1, 9, 9, 4), dtype=np.uint8)
    floats = rng.uniform(size=(2, SIZE, SIZE, channels)).astype("float32")
    pictures = [rng.integers(0, 256, (11, 17, other), dtype=np.uint8),
                rng.integers(0, 256, (6, 4, channels), dtype=np.uint8),
                rng.integers(0, 256, (30, 30, 3), dtype=np.uint8)]
    encoded = [tf.io.encode_png(pictures[0]).numpy(), tf.io.encode_png(pictures[1]).numpy(),
               tf.io.encode_jpeg(pictures[2], quality=90).numpy()]
    np.savez(tmp_path / "in.npz", floats=floats, big=big, small=small, rgba=rgba)
    files = []
    for i, data in enumerate(encoded):
        files.append(str(tmp_path / f"image{i}.bin"))
        (tmp_path / f"image{i}.bin").write_bytes(data)
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3", "CUDA_VISIBLE_DEVICES": ""}
    (tmp_path / "fresh.py").write_text(FRESH)
    proc = subprocess.run(
        [sys.executable, str(tmp_path / "fresh.py"), path, str(tmp_path / "in.npz"),
         str(tmp_path / "out.npz"), *files], capture_output=True, text=True, env=env,
        cwd=str(tmp_path), timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    out = np.load(tmp_path / "out.npz")
    assert not out["tfssl_imported"]
    assert set(SIGNATURES) | {"serving_default"} == set(out["signatures"])

    def keras_features(x):
        return encoder(x, training=False).numpy()

    want = keras_features(floats)
    for key in ("serve", "serve_sig", "default"):
        np.testing.assert_allclose(out[key], want, atol=1e-5, err_msg=key)
    for key, images in (("uint8_big", big), ("uint8_small", small), ("uint8_rgba", rgba),
                        ("uint8_sig", big)):
        want = keras_features(_reference_prepare(images, channels))
        np.testing.assert_allclose(out[key], want, atol=1e-5, err_msg=key)
        np.testing.assert_allclose(  # the library's own helper does the same
            keras_features(prepare_uint8_images(images, SIZE, channels)), want, atol=1e-6)
    decoded = [tf.io.decode_image(e, channels=channels, expand_animations=False).numpy()
               for e in encoded]
    np.testing.assert_array_equal(decoded[1], pictures[1])  # PNG is lossless
    want = np.concatenate([keras_features(_reference_prepare(d[None], channels))
                           for d in decoded])
    np.testing.assert_allclose(out["bytes"], want, atol=1e-5)
    np.testing.assert_allclose(out["bytes_sig"], want, atol=1e-5)


def test_bad_channel_count_is_refused(tmp_path):
    encoder = image_encoder("convnet", SIZE, 3, width=0.25)
    export_image_encoder(encoder, str(tmp_path / "enc"))
    m = tf.saved_model.load(str(tmp_path / "enc"))
    with pytest.raises(tf.errors.InvalidArgumentError, match="1, 3 or 4 channels"):
        m.serve_uint8(np.zeros((1, 8, 8, 2), np.uint8))
    with pytest.raises(TypeError, match="expected uint8"):
        prepare_uint8_images(np.zeros((1, 8, 8, 3), np.float32), SIZE, 3)


def test_channel_check_runs_before_the_images_are_used():
    """The channel check gates the images in a graph (a control dependency), so a bad
    channel count is always reported by the check and never, by a race, as the
    encoder's convolution error (the suite once saw "Depth of input must be a multiple
    of depth of filter: 2 vs 3")."""
    graph = tf.function(lambda x: prepare_uint8_images(x, SIZE, 3)).get_concrete_function(
        tf.TensorSpec([None, None, None, None], tf.uint8)).graph
    gated = {op.name for op in graph.get_operations()
             if any("assert" in c.name.lower() for c in op.control_inputs)}
    (cast,) = [op for op in graph.get_operations()
               if op.type == "Cast" and op.inputs[0].dtype == tf.uint8]

    seen = set()

    def waits_for_check(op):
        if op.name in gated:
            return True
        seen.add(op.name)
        return any(waits_for_check(t.op) for t in op.inputs if t.op.name not in seen)

    assert waits_for_check(cast), "the images reach the model without the channel check"
