"""The pure analytics cores: filters, tracker, zones, lines, counts, events and anomalies. No threads, no I/O but the anomaly state file."""
