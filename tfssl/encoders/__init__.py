"""Backbones as functional keras.Model."""

from tfssl.encoders.resnet import IMAGE_ENCODERS, convnet, image_encoder, resnet  # noqa: F401
from tfssl.encoders.bert import (  # noqa: F401
    BERT_PRESETS, bert, bert_base, bert_mini, bert_small, bert_tiny, get_text_encoder)
