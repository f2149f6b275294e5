"""Writing under state_dir: atomic files and the one StorageHealth every writer reports to (full disk degrades, never crashes)."""
