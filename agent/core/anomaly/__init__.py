"""Anomaly detection: pure per-camera detectors composed by AnomalyEngine (analytics thread)."""

from agent.core.anomaly.common import AnomalyStateError, IdFactory
from agent.core.anomaly.engine import AnomalyEngine, anomaly_kinds
from agent.core.anomaly.stream import StreamStatus
from agent.core.anomaly.tamper import TamperFeatures, tamper_features, tamper_grey

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
