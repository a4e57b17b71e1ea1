"""tfssl.layers."""
