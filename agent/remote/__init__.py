"""Remote configuration over MQTT: parse and validate documents, plan reconciles, persist, speak the protocol.

controller.py drives the apply transaction on the config thread and agent.daemon.reconcile
applies it (see docs/remote-config.md); the other modules are pure building blocks plus the atomic file writer and the `edge-agent config` tool."""
