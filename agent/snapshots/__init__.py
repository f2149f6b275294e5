"""Event snapshots: cutting the best crop on the analytics thread, rendering and storing it on the snapshot thread."""
