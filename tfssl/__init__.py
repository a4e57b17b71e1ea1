"""tfssl: self-supervised learning for TensorFlow / Keras 3.

Importing ``tfssl`` registers every tfssl layer, loss, model and optimizer with Keras,
so ``keras.saving.load_model("run/keras/model.keras")`` works after ``import tfssl``.
"""

__version__ = "0.1.0"

from tfssl import (  # noqa: F401,E402
    augment, cluster, data, distribute, encoders, eval, export, layers, losses, methods, optimizers,
    presets, runs, text, zoo)
from tfssl.errors import UsageError  # noqa: F401,E402
from tfssl.methods import MaskedLM, SimCLR  # noqa: F401,E402
from tfssl.runs import pretrain  # noqa: F401,E402
