"""A packed entry inside a downstream classifier: the SavedModel frozen (TFSMLayer), the
.keras encoder fine-tuned."""

import keras
import numpy as np

import tfssl  # noqa: F401  (registers tfssl's layers for the .keras encoder)

rng = np.random.default_rng(0)
X = rng.uniform(size=(8, 8, 8, 1)).astype("float32")
Y = rng.integers(0, 3, 8)


def _classifier(features):
    model = keras.Sequential([keras.Input((8, 8, 1)), features, keras.layers.Dense(3)])
    model.compile(optimizer=keras.optimizers.Adam(1e-2),
                  loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    return model


def test_tfsm_layer_is_a_frozen_feature_extractor(image_entry):
    # trainable=False: the SavedModel's variables are a fixed feature extractor.
    layer = keras.layers.TFSMLayer(str(image_entry / "saved_model"), call_endpoint="serve",
                                   trainable=False)
    model = _classifier(layer)
    before = [w.numpy().copy() for w in layer.weights]
    head = model.layers[-1].kernel.numpy().copy()
    model.fit(X, Y, batch_size=8, epochs=1, verbose=0)
    assert model.predict(X, verbose=0).shape == (8, 3)
    assert layer.trainable_weights == []
    for b, w in zip(before, layer.weights):
        np.testing.assert_array_equal(b, w.numpy())
    assert not np.allclose(head, model.layers[-1].kernel.numpy())


def test_keras_encoder_is_fine_tuned(image_entry):
    encoder = keras.saving.load_model(image_entry / "encoder.keras")
    model = _classifier(encoder)
    before = [w.numpy().copy() for w in encoder.trainable_weights]
    model.fit(X, Y, batch_size=8, epochs=1, verbose=0)
    assert model.predict(X, verbose=0).shape == (8, 3)
    assert any(not np.allclose(b, w.numpy())
               for b, w in zip(before, encoder.trainable_weights))
