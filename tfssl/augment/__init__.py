"""tfssl.augment."""

from tfssl.augment.views import (  # noqa: F401
    CROP_SAMPLINGS,
    add_view_set,
    add_views,
    multi_crop,
    view_set,
    views_from_settings,
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
