"""The MQTT boundary: topic layout, JSON encoders, the durable outbox and the publisher."""

from agent.publish.client import MqttPublisher
from agent.publish.messages import CameraStats, OutboundMessage, PublisherStats, StatsSnapshot
from agent.publish.topics import Topics

__all__ = ["CameraStats", "MqttPublisher", "OutboundMessage", "PublisherStats", "StatsSnapshot", "Topics"]
