"""tfssl.methods."""
