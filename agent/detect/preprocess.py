"""Writes a BGR frame into the model's input tensor: stretch resize, BGR->RGB, then the pixel encoding
that the input's dtype and quantization ask for. Called by its detector thread for every frame;
everything it needs is allocated once, in InputWriter's constructor."""

from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import Any

import cv2
import numpy as np
import numpy.typing as npt

from agent.types import Image

RESIZE_INTERPOLATION = cv2.INTER_LINEAR
PIXEL_MAX = 255.0
SHIFT_SCALE_TOLERANCE = 1e-3  # |scale * 255 - 1| below this counts as "scale 1/255"
INT8_SHIFT_ZERO_POINT = -128
SUPPORTED_DTYPES = (np.dtype(np.uint8), np.dtype(np.int8), np.dtype(np.float32))


class InputEncoding(enum.Enum):
    """How an RGB pixel p (0-255) becomes a tensor value."""

    RAW = "raw"  # uint8 tensor: p as it is
    SHIFT = "shift"  # int8 with scale 1/255, zero point -128: p - 128, done as p XOR 0x80
    TABLE = "table"  # anything else: a 256-entry lookup table of the tensor's dtype


class FloatRange(enum.Enum):
    """What a float32 input expects: YOLO exports take [0, 1], SSD exports take [-1, 1]."""

    UNIT = "unit"
    SYMMETRIC = "symmetric"


@dataclass(frozen=True, slots=True)
class InputSpec:
    """The model input: size, dtype and quantization, plus the float range for float32 inputs."""

    width: int
    height: int
    dtype: np.dtype[Any]
    scale: float
    zero_point: int
    float_range: FloatRange

    @property
    def encoding(self) -> InputEncoding:
        if self.dtype == np.uint8:
            return InputEncoding.RAW
        is_unit_scale = abs(self.scale * PIXEL_MAX - 1.0) < SHIFT_SCALE_TOLERANCE
        if self.dtype == np.int8 and is_unit_scale and self.zero_point == INT8_SHIFT_ZERO_POINT:
            return InputEncoding.SHIFT
        return InputEncoding.TABLE


def pixel_table(spec: InputSpec) -> npt.NDArray[Any]:
    """The tensor value of every pixel value 0-255, in the tensor's dtype.

    int8: q = round(p / 255 / scale) + zero_point, clipped to int8. float32: p / 255 (UNIT) or
    (p - 127.5) / 127.5 (SYMMETRIC). uint8: p."""
    pixels = np.arange(256, dtype=np.float64)
    if spec.dtype == np.float32:
        if spec.float_range is FloatRange.UNIT:
            return (pixels / PIXEL_MAX).astype(np.float32)
        half = PIXEL_MAX / 2.0
        return ((pixels - half) / half).astype(np.float32)
    if spec.dtype == np.int8:
        if spec.scale <= 0.0:
            raise ValueError(f"int8 input needs a positive quantization scale, got {spec.scale}")
        quantized = np.round(pixels / PIXEL_MAX / spec.scale) + spec.zero_point
        info = np.iinfo(np.int8)
        return np.clip(quantized, info.min, info.max).astype(np.int8)
    if spec.dtype == np.uint8:
        return np.arange(256, dtype=np.uint8)
    raise ValueError(f"unsupported input dtype {spec.dtype}")


class InputWriter:
    """Fills an input tensor view from BGR frames without allocating per frame."""

    def __init__(self, spec: InputSpec) -> None:
        if spec.dtype not in SUPPORTED_DTYPES:
            raise ValueError(f"unsupported input dtype {spec.dtype}")
        self._spec = spec
        self._size = (spec.width, spec.height)
        self._encoding = spec.encoding
        self._table = pixel_table(spec)
        self._rgb: npt.NDArray[np.uint8] = np.zeros((spec.height, spec.width, 3), dtype=np.uint8)

    @property
    def encoding(self) -> InputEncoding:
        return self._encoding

    def write(self, image: Image, tensor: npt.NDArray[Any]) -> None:
        """Resize `image` (BGR uint8, HxWx3) into `tensor` ([1, H, W, 3] of the spec's dtype), encoded.

        Do not keep `tensor` after this returns: it is a view of the interpreter's memory."""
        if image.dtype != np.uint8 or image.ndim != 3 or image.shape[2] != 3:
            raise ValueError(f"expected a BGR uint8 HxWx3 image, got {image.dtype} {image.shape}")
        plane = tensor[0]
        if self._encoding is InputEncoding.RAW:
            target = plane
        elif self._encoding is InputEncoding.SHIFT:
            target = plane.view(np.uint8)
        else:
            target = self._rgb
        cv2.resize(image, self._size, dst=target, interpolation=RESIZE_INTERPOLATION)
        cv2.cvtColor(target, cv2.COLOR_BGR2RGB, dst=target)
        if self._encoding is InputEncoding.SHIFT:
            np.bitwise_xor(target, 0x80, out=target)
        elif self._encoding is InputEncoding.TABLE:
            cv2.LUT(target, self._table, dst=plane)
