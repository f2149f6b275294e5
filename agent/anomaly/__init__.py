"""Anomaly detection: pure per-camera detectors composed by AnomalyEngine (inference thread)."""

from agent.anomaly.common import AnomalyStateError, IdFactory
from agent.anomaly.engine import AnomalyEngine
from agent.anomaly.stream import StreamStatus
from agent.anomaly.tamper import TamperFeatures, tamper_features, tamper_grey

__all__ = [
    "AnomalyEngine",
    "AnomalyStateError",
    "IdFactory",
    "StreamStatus",
    "TamperFeatures",
    "tamper_features",
    "tamper_grey",
]
