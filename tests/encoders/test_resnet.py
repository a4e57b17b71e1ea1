import keras
import numpy as np
import pytest

from tfssl.encoders import convnet, image_encoder, resnet
from tfssl.errors import UsageError


@pytest.mark.parametrize("depth,params,features", [
    (18, 11_168_832, 512), (34, 21_276_992, 512), (50, 23_508_032, 2048)])
def test_resnet_parameter_counts_match_the_reference_architecture(depth, params, features):
    # torchvision's resnet{18,34,50} without fc, with the CIFAR 3x3 stem for 18/34 and
    # the ImageNet 7x7 stem for 50 (conv + BN parameters; Keras also counts BN moving stats).
    stem = "cifar" if depth < 50 else "imagenet"
    model = resnet(depth, image_size=32, stem=stem)
    trainable = sum(int(np.prod(w.shape)) for w in model.trainable_weights)
    assert trainable == params
    assert model.output_shape == (None, features)


def test_width_stem_and_gray_inputs():
    narrow = resnet(18, image_size=16, channels=1, width=0.25)
    assert narrow.output_shape == (None, 128)
    x = np.random.default_rng(0).uniform(size=(2, 16, 16, 1)).astype("float32")
    assert narrow(x).shape == (2, 128)
    imagenet = resnet(18, image_size=64, stem="imagenet", width=0.125)
    assert imagenet.get_layer("stem_pool") is not None
    assert imagenet(np.zeros((1, 64, 64, 3), "float32")).shape == (1, 64)


def test_convnet_and_factory():
    model = convnet(image_size=8, channels=3, width=4, depth=2)
    assert model.output_shape == (None, 8)
    assert image_encoder("resnet18", 32).get_layer("stem_conv").kernel_size == (3, 3)
    assert image_encoder("resnet18", 96, width=0.125).get_layer("stem_conv").kernel_size == (7, 7)
    with pytest.raises(UsageError, match="--encoder='vgg'"):
        image_encoder("vgg")


def test_encoder_round_trips_as_keras_file(tmp_path):
    model = resnet(18, image_size=8, width=0.125)
    x = np.random.default_rng(1).uniform(size=(3, 8, 8, 3)).astype("float32")
    model.save(tmp_path / "enc.keras")
    again = keras.saving.load_model(tmp_path / "enc.keras")
    np.testing.assert_allclose(again(x), model(x), rtol=1e-6, atol=1e-6)
