"""Batch analysis of recorded video (`edge-agent analyze`): the same pipeline as the daemon, fed from
files as fast as the CPU allows, its records written as JSON lines, tallied, and optionally published."""
