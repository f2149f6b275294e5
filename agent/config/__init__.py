"""Configuration: pydantic models (schema) and the YAML loader that maps errors to lines."""

from agent.config.loader import load_config, load_config_text
from agent.config.schema import AgentConfig, CameraConfig, ModelConfig, MqttConfig

__all__ = ["AgentConfig", "CameraConfig", "ModelConfig", "MqttConfig", "load_config", "load_config_text"]
