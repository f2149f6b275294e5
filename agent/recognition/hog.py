"""HOG features (cv2.HOGDescriptor on a 64x64 grey crop): the hand-crafted baseline that
`edge-agent train --compare-baselines` puts against the deep backbone. Pure; any thread."""

from __future__ import annotations

import cv2
import numpy as np
import numpy.typing as npt

from agent.recognition.backbone import check_image, normalise

WINDOW_PX = 64
BLOCK_PX = 16
STRIDE_PX = 8
CELL_PX = 8
BINS = 9
FEATURE_COUNT = ((WINDOW_PX - BLOCK_PX) // STRIDE_PX + 1) ** 2 * (BLOCK_PX // CELL_PX) ** 2 * BINS  # 1764


class HogFeatures:
    """features(crop) -> L2-normalised HOG vector of FEATURE_COUNT values."""

    def __init__(self) -> None:
        self._descriptor = cv2.HOGDescriptor(
            (WINDOW_PX, WINDOW_PX), (BLOCK_PX, BLOCK_PX), (STRIDE_PX, STRIDE_PX), (CELL_PX, CELL_PX), BINS
        )

    def features(self, image_bgr: npt.NDArray[np.uint8]) -> npt.NDArray[np.float32]:
        check_image(image_bgr)
        grey = cv2.cvtColor(image_bgr, cv2.COLOR_BGR2GRAY)
        window = cv2.resize(grey, (WINDOW_PX, WINDOW_PX), interpolation=cv2.INTER_AREA)
        vector = np.asarray(self._descriptor.compute(window), dtype=np.float32).reshape(-1)
        return normalise(vector)
