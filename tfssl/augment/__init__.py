"""tfssl.augment."""
