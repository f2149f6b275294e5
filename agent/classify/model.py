"""What the second-stage workers need of a trained classifier (agent.recognition makes them).

A Protocol, so the workers are tested with any object that classifies a crop."""

from __future__ import annotations

from typing import Protocol

from agent.types import Image


class Answer(Protocol):
    """A classifier's answer for one image."""

    @property
    def label(self) -> str: ...

    @property
    def score(self) -> float: ...


class CropClassifier(Protocol):
    """Classifies one BGR uint8 image of any size (it resizes to its backbone's input itself)."""

    def classify(self, image: Image) -> Answer: ...
