"""tfssl.eval."""
