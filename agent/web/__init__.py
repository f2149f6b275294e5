"""The local web page and read-only HTTP API (Flask under waitress), off by default (issue 19)."""
