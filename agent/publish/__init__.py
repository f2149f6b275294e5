"""The MQTT boundary: topic layout, JSON encoders, the durable outbox, the publisher and its sink."""

from agent.publish.client import MqttPublisher
from agent.publish.messages import OutboundMessage
from agent.publish.topics import Topics

__all__ = ["MqttPublisher", "OutboundMessage", "Topics"]
