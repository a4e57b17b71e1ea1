"""tfssl.optimizers."""
