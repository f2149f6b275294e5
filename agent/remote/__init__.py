"""Remote configuration over MQTT: parse and validate documents, plan reconciles, persist, speak the protocol.

The supervisor drives the apply transaction (see docs/remote-config.md); these modules
are its pure building blocks plus the atomic file writer and the `edge-agent config` tool."""
