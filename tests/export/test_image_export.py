import numpy as np

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
