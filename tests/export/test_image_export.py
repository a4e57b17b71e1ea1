import keras
import numpy as np
import tensorflow as tf

from tfssl.encoders import resnet
from tfssl.eval import extract_features
from tfssl.export import export_image_encoder, load_image_encoder


def test_reloaded_savedmodel_equals_the_keras_encoder(tmp_path):
    encoder = resnet(18, image_size=8, channels=3, width=0.125)
    x = np.random.default_rng(0).uniform(size=(4, 8, 8, 3)).astype("float32")
    export_image_encoder(encoder, str(tmp_path / "enc"))
    reloaded = load_image_encoder(str(tmp_path / "enc"))
    np.testing.assert_allclose(reloaded.serve(x).numpy(), encoder(x, training=False).numpy(),
                               rtol=1e-5, atol=1e-5)
    images = (x * 255).astype(np.uint8)
    np.testing.assert_allclose(extract_features(reloaded, images),
                               extract_features(encoder, images), rtol=1e-5, atol=1e-5)


def test_bfloat16_encoder_exports_float32_features(tmp_path):
    keras.config.set_dtype_policy("mixed_bfloat16")
    try:
        encoder = resnet(18, image_size=8, channels=3, width=0.125)
    finally:
        keras.config.set_dtype_policy("float32")
    x = np.random.default_rng(1).uniform(size=(2, 8, 8, 3)).astype("float32")
    assert encoder(x).dtype == tf.bfloat16
    export_image_encoder(encoder, str(tmp_path / "enc"))
    loaded = load_image_encoder(str(tmp_path / "enc"))  # alive while serving
    served = loaded.serve(x)
    assert served.dtype == tf.float32
    np.testing.assert_allclose(served.numpy(), tf.cast(encoder(x), tf.float32).numpy())


def test_features_of_a_bfloat16_encoder_are_computed_in_float32():
    """kNN and probes read features at full precision for every encoder alike (a
    bfloat16-trained one and its float32 random-init baseline)."""
    keras.config.set_dtype_policy("mixed_bfloat16")
    try:
        low = resnet(18, image_size=8, channels=3, width=0.125)
    finally:
        keras.config.set_dtype_policy("float32")
    full = resnet(18, image_size=8, channels=3, width=0.125)
    full.set_weights(low.get_weights())
    images = np.random.default_rng(2).integers(0, 256, (6, 8, 8, 3), dtype=np.uint8)
    got = extract_features(low, images)
    np.testing.assert_allclose(got, extract_features(full, images), rtol=1e-6, atol=1e-6)
    assert low.compute_dtype == "bfloat16"  # the trained encoder itself is unchanged
