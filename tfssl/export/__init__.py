"""SavedModel export and reload helpers.

Image exports serve float images (``serve``), uint8 images of any size (``serve_uint8``)
and encoded JPEG / PNG bytes (``serve_bytes``); text exports serve raw strings. A whole
run is packed for the model zoo by :func:`tfssl.zoo.export_run` (``tfssl-export``).
"""

from tfssl.export.image import (  # noqa: F401
    SIGNATURES, export_image_encoder, load_image_encoder, prepare_uint8_images)
from tfssl.export.text import export_text_encoder, load_text_encoder  # noqa: F401
