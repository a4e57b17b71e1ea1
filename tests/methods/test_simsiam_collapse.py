"""SimSiam's stop-gradient is what prevents collapse (Chen & He 2021, section 4.1).

The same tiny data, encoder, heads, optimizer and seed; only ``stop_gradient`` differs.
Without it the L2-normalised projections collapse to one point (``embedding_std``, the
paper's monitor, falls towards 0 and the loss to -1, its minimum); with it they stay
spread. The projector here has no batch norm on its output: an output BN (the paper's
default, and tfssl's) standardises every projection dimension over the batch, which
keeps ``embedding_std`` near ``1/sqrt(D)`` whatever the network does.
"""

import keras
import numpy as np

from tfssl.data import load_images, simclr_dataset
from tfssl.encoders import convnet
from tfssl.layers import ProjectionHead
from tfssl.methods import SimSiam

DIM = 32


def _train(stop_gradient, steps=60):
    keras.utils.set_random_seed(0)
    data = load_images("digits", image_size=8, split="train").subset(slice(0, 256))
    ds = simclr_dataset(data, 64, 8, seed=0, min_scale=0.5, color_jitter=0.5).repeat()
    model = SimSiam(convnet(image_size=8, channels=1, width=4, depth=2),
                    ProjectionHead(DIM, 32, 2, last_bn=False),
                    ProjectionHead(DIM, 8, 2, last_bn=False, name="prediction_head"),
                    stop_gradient=stop_gradient)
    model.compile(optimizer=keras.optimizers.SGD(0.1, momentum=0.9))
    return model.fit(ds, steps_per_epoch=steps // 6, epochs=6, verbose=0).history


def test_without_stop_gradient_collapses_with_it_does_not():
    healthy = _train(True)
    collapsed = _train(False)
    assert collapsed["embedding_std"][-1] < 0.02, collapsed
    assert collapsed["embedding_std"][-1] < 0.25 * collapsed["embedding_std"][0]
    assert collapsed["loss"][-1] < -0.99  # every pair identical: the trivial minimum
    assert healthy["embedding_std"][-1] > 0.5 / np.sqrt(DIM), healthy
    assert healthy["loss"][-1] > -0.9
