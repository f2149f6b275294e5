"""edge-vision-agent: a headless edge video analytics daemon that reports over MQTT."""

__version__ = "0.1.0"
