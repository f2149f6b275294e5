"""Second-stage recognition (issue 16): crop classifiers trained on the device from labelled examples,
on a frozen MobileNet backbone with a linear scikit-learn head. The public API is re-exported here."""

from agent.errors import RecognitionError
from agent.recognition.classifier import Classification, CropClassifier, load_classifier

__all__ = ["Classification", "CropClassifier", "RecognitionError", "load_classifier"]
