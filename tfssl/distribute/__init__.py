"""tfssl.distribute."""
