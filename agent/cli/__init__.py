"""The operator's commands: `edge-agent` (run, check-config, models, config push, fleet) and the demo summary."""
