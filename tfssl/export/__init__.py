"""tfssl.export."""
