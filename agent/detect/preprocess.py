"""Writes a BGR frame into the model's input tensor: stretch or letterbox resize, BGR->RGB unless the
model takes BGR, the pixel encoding that the input's dtype, quantization and float range ask for, and
NHWC or NCHW. Called by its detector thread for every frame; everything it needs is allocated once,
in InputWriter's constructor."""

from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import Any

import cv2
import numpy as np
import numpy.typing as npt

from agent.detect.letterbox import LETTERBOX_PAD, place
from agent.types import Image

RESIZE_INTERPOLATION = cv2.INTER_LINEAR
PIXEL_MAX = 255.0
SHIFT_SCALE_TOLERANCE = 1e-3  # |scale * 255 - 1| below this counts as "scale 1/255"
INT8_SHIFT_ZERO_POINT = -128
SUPPORTED_DTYPES = (np.dtype(np.uint8), np.dtype(np.int8), np.dtype(np.float32))
RGB_CHANNELS = 3


class InputEncoding(enum.Enum):
    """How an RGB pixel p (0-255) becomes a tensor value."""

    RAW = "raw"  # uint8 tensor: p as it is
    SHIFT = "shift"  # int8 with scale 1/255, zero point -128: p - 128, done as p XOR 0x80
    TABLE = "table"  # anything else: a 256-entry lookup table of the tensor's dtype


class FloatRange(enum.Enum):
    """What a float32 input expects: YOLOv8/11 exports take [0, 1], SSD exports [-1, 1], YOLOX 0-255."""

    UNIT = "unit"
    SYMMETRIC = "symmetric"
    PIXEL = "pixel"


@dataclass(frozen=True, slots=True)
class InputSpec:
    """The model input: size, dtype and quantization, the float range for float32 inputs, and how the
    frame is laid out in it (channels first or last, BGR or RGB, letterboxed or stretched)."""

    width: int
    height: int
    dtype: np.dtype[Any]
    scale: float
    zero_point: int
    float_range: FloatRange
    channels_first: bool = False
    bgr: bool = False
    letterbox: bool = False

    @property
    def shape(self) -> tuple[int, int, int, int]:
        if self.channels_first:
            return (1, RGB_CHANNELS, self.height, self.width)
        return (1, self.height, self.width, RGB_CHANNELS)

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

    int8: q = round(p / 255 / scale) + zero_point, clipped to int8. float32: p / 255 (UNIT),
    (p - 127.5) / 127.5 (SYMMETRIC) or p (PIXEL). uint8: p."""
    pixels = np.arange(256, dtype=np.float64)
    if spec.dtype == np.float32:
        if spec.float_range is FloatRange.UNIT:
            return (pixels / PIXEL_MAX).astype(np.float32)
        if spec.float_range is FloatRange.PIXEL:
            return pixels.astype(np.float32)
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
        self._rgb: npt.NDArray[np.uint8] = np.zeros((spec.height, spec.width, RGB_CHANNELS), dtype=np.uint8)
        # Channels first: the resized HxWx3 image is transposed into these planes, then encoded.
        self._planes: npt.NDArray[np.uint8] | None = (
            np.zeros((RGB_CHANNELS, spec.height, spec.width), dtype=np.uint8) if spec.channels_first else None
        )

    @property
    def encoding(self) -> InputEncoding:
        return self._encoding

    def write(self, image: Image, tensor: npt.NDArray[Any]) -> None:
        """Resize `image` (BGR uint8, HxWx3) into `tensor` (`spec.shape`, of the spec's dtype), encoded.

        Do not keep `tensor` after this returns: it may be a view of the runtime's memory."""
        if image.dtype != np.uint8 or image.ndim != 3 or image.shape[2] != 3:
            raise ValueError(f"expected a BGR uint8 HxWx3 image, got {image.dtype} {image.shape}")
        plane = tensor[0]
        if self._planes is not None or self._encoding is InputEncoding.TABLE:
            target = self._rgb
        elif self._encoding is InputEncoding.RAW:
            target = plane
        else:
            target = plane.view(np.uint8)
        self._resize(image, target)
        if not self._spec.bgr:
            cv2.cvtColor(target, cv2.COLOR_BGR2RGB, dst=target)
        if self._planes is not None:
            np.copyto(self._planes, target.transpose(2, 0, 1))
            rows = RGB_CHANNELS * self._spec.height
            target, plane = self._planes.reshape(rows, self._spec.width), plane.reshape(rows, self._spec.width)
        self._encode(target, plane)

    def _resize(self, image: Image, target: npt.NDArray[np.uint8]) -> None:
        if not self._spec.letterbox:
            cv2.resize(image, self._size, dst=target, interpolation=RESIZE_INTERPOLATION)
            return
        height, width = image.shape[:2]
        spot = place(width, height, self._spec.width, self._spec.height, letterbox=True)
        target.fill(LETTERBOX_PAD)
        inner = target[spot.top : spot.top + spot.height, spot.left : spot.left + spot.width]
        cv2.resize(image, (spot.width, spot.height), dst=inner, interpolation=RESIZE_INTERPOLATION)

    def _encode(self, pixels: npt.NDArray[np.uint8], plane: npt.NDArray[Any]) -> None:
        """`pixels` (uint8, RGB or BGR) into `plane`; RAW and SHIFT work in place when they share memory."""
        if self._encoding is InputEncoding.RAW:
            if pixels is not plane:
                np.copyto(plane, pixels)
        elif self._encoding is InputEncoding.SHIFT:
            np.bitwise_xor(pixels, 0x80, out=plane.view(np.uint8))
        else:
            cv2.LUT(pixels, self._table, dst=plane)
