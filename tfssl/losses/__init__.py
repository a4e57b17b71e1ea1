"""Keras losses, one per file."""

from tfssl.losses.ntxent import (  # noqa: F401
    NTXent, ntxent_accuracy, ntxent_logits, ntxent_loss_and_accuracy)
from tfssl.losses.byol import NormalizedMSE  # noqa: F401
from tfssl.losses.simsiam import NegativeCosine  # noqa: F401
from tfssl.losses.barlow_twins import BarlowTwinsLoss  # noqa: F401
from tfssl.losses.vicreg import VICRegLoss, vicreg_terms  # noqa: F401
from tfssl.losses.infonce import (  # noqa: F401
    InfoNCE, infonce_batch_logits, infonce_logits, infonce_queue_loss)
