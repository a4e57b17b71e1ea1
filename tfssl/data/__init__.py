"""Dataset specs -> tf.data pipelines."""

from tfssl.data.images import (  # noqa: F401
    IMAGE_INPUTS, IMAGE_SPECS, ImageData, from_arrays, load_digits, load_folder,
    load_images, load_train_test, match_channels)
from tfssl.data.pipeline import check_batch_size, eval_dataset, simclr_dataset, views_dataset  # noqa: F401
from tfssl.data.stream import FileImages, TfdsImages  # noqa: F401
from tfssl.data.tfds_source import load_tfds, parse_tfds_spec  # noqa: F401
from tfssl.data.text import (  # noqa: F401
    TEXT_SPECS, LabeledText, load_labeled_text, load_text, split_documents)
