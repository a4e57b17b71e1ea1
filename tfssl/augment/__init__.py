"""tfssl.augment."""

from tfssl.augment.views import (  # noqa: F401
    add_views,
    color_jitter,
    gaussian_blur,
    make_view_fn,
    random_flip,
    random_grayscale,
    random_resized_crop,
    simclr_augment,
    solarize,
    two_views,
)
