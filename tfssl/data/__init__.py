"""tfssl.data."""
