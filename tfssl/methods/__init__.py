"""Self-supervised methods: one keras.Model subclass per method."""

from tfssl.methods.simclr import SimCLR  # noqa: F401
from tfssl.methods.masked_lm import MaskedLM, Perplexity  # noqa: F401
from tfssl.methods.text_classifier import (  # noqa: F401
    TextClassifier, finetune_run, finetune_text_classifier)
