"""Applies a linear head (coef, intercept) to feature vectors with numpy: class scores that sum to 1.
Pure (no I/O, no threads); the same maths for a logistic regression (probabilities) and a linear SVM
(softmax of its margins, ranked correctly but not calibrated)."""

from __future__ import annotations

import numpy as np
import numpy.typing as npt


def class_scores(
    features: npt.NDArray[np.float32], coef: npt.NDArray[np.float32], intercept: npt.NDArray[np.float32]
) -> npt.NDArray[np.float32]:
    """(n, d) or (d,) features -> (n, classes) scores. A single-row head is the binary case: row 0 scores
    class 1 (scikit-learn's convention), so the result has two columns."""
    x = np.atleast_2d(features).astype(np.float32)
    margins = x @ coef.T + intercept
    if coef.shape[0] == 1:
        margins = np.concatenate([np.zeros_like(margins), margins], axis=1)
    shifted = margins - margins.max(axis=1, keepdims=True)
    exp = np.exp(shifted)
    result: npt.NDArray[np.float32] = (exp / exp.sum(axis=1, keepdims=True)).astype(np.float32)
    return result
