"""Self-supervised methods: one file and one registry entry each.

Importing a method file registers it (:mod:`tfssl.methods.registry`); the imports below
are the registry's entries, in the order listings show them.
"""

from tfssl.methods import registry  # noqa: F401
from tfssl.methods.base import Method, MomentumMethod, embedding_std  # noqa: F401
from tfssl.methods.simclr import SimCLR  # noqa: F401
from tfssl.methods.masked_lm import MaskedLM, Perplexity  # noqa: F401
from tfssl.methods.electra import Electra  # noqa: F401
from tfssl.methods.byol import BYOL  # noqa: F401
from tfssl.methods.simsiam import SimSiam  # noqa: F401
from tfssl.methods.barlow_twins import BarlowTwins  # noqa: F401
from tfssl.methods.vicreg import VICReg  # noqa: F401
from tfssl.methods.moco import MoCo  # noqa: F401
from tfssl.methods.deepcluster import DeepCluster  # noqa: F401
from tfssl.methods.text_classifier import (  # noqa: F401
    TextClassifier, finetune_run, finetune_text_classifier)
