"""tfssl.encoders."""
