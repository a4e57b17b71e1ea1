"""SavedModel export and reload helpers."""

from tfssl.export.image import export_image_encoder, load_image_encoder  # noqa: F401
from tfssl.export.text import export_text_encoder, load_text_encoder  # noqa: F401
