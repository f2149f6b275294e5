"""The local event store: events, anomalies, their snapshot and clip files (issue 19)."""
