"""tfssl.text."""
