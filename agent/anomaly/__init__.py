"""Anomaly detection: pure per-camera detectors composed by AnomalyEngine (analytics thread)."""

from agent.anomaly.common import AnomalyStateError, IdFactory
from agent.anomaly.engine import AnomalyEngine, anomaly_kinds
from agent.anomaly.stream import StreamStatus
from agent.anomaly.tamper import TamperFeatures, tamper_features, tamper_grey

__all__ = [
    "AnomalyEngine",
    "AnomalyStateError",
    "IdFactory",
    "StreamStatus",
    "TamperFeatures",
    "anomaly_kinds",
    "tamper_features",
    "tamper_grey",
]
