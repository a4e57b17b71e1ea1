"""tfssl.losses."""
