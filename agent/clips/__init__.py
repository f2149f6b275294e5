"""Event clips: a per-camera pre-roll of recent frames, then the event and its post-roll, as MP4 (issue 19)."""
