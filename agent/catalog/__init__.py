"""Models on disk: the catalog of known models, resolving a config's model through the model directory or mirror, and `models pull`."""
