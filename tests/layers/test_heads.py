import keras
import numpy as np

from tfssl.layers import ProjectionHead


def test_shapes_depth_and_serialisation(tmp_path):
    for layers_ in (1, 2, 3):
        head = ProjectionHead(output_dim=8, hidden_dim=16, num_layers=layers_)
        out = head(np.ones((4, 5), "float32"))
        assert out.shape == (4, 8)
        assert len(head.dense_layers) == layers_
    head = ProjectionHead(8, 16, 3)
    model = keras.Sequential([keras.Input((5,)), head])
    x = np.random.default_rng(0).normal(size=(6, 5)).astype("float32")
    model.save(tmp_path / "head.keras")
    again = keras.saving.load_model(tmp_path / "head.keras")
    np.testing.assert_allclose(again(x), model(x), rtol=1e-6, atol=1e-6)
    assert again.layers[0].get_config()["num_layers"] == 3


def test_only_the_output_layer_without_bn_has_a_bias():
    head = ProjectionHead(4, 8, 2, last_bn=False)
    head.build((None, 3))
    assert [d.use_bias for d in head.dense_layers] == [False, True]
    assert head.norm_layers[-1] is None
