"""The daemon: the composition root, lifecycle, reconcile, stats and health of one running agent."""
