"""Input encoding (agent.detect.preprocess): which pixel mapping each input dtype and quantization gets,
and that InputWriter resizes, swaps BGR to RGB and encodes straight into the given tensor."""

from __future__ import annotations

from typing import Any

import numpy as np
import numpy.typing as npt
import pytest

from agent.detect.preprocess import FloatRange, InputEncoding, InputSpec, InputWriter, pixel_table

PIXELS = np.arange(256, dtype=np.float64)


def spec(
    dtype: type[Any], scale: float = 0.0, zero_point: int = 0, float_range: FloatRange = FloatRange.UNIT
) -> InputSpec:
    return InputSpec(4, 2, np.dtype(dtype), scale, zero_point, float_range)


@pytest.mark.parametrize(
    ("input_spec", "encoding"),
    [
        pytest.param(spec(np.uint8, 0.0078125, 128), InputEncoding.RAW, id="ssd-uint8-raw"),
        pytest.param(spec(np.uint8), InputEncoding.RAW, id="uint8-unquantized-raw"),
        pytest.param(spec(np.int8, 0.003921568859368563, -128), InputEncoding.SHIFT, id="yolo-int8-shift"),
        pytest.param(spec(np.int8, 1 / 255, 0), InputEncoding.TABLE, id="int8-zero-point-0"),
        pytest.param(spec(np.int8, 0.0078125, 0), InputEncoding.TABLE, id="int8-other-scale"),
        pytest.param(spec(np.float32), InputEncoding.TABLE, id="float32"),
    ],
)
def test_encoding_choice(input_spec: InputSpec, encoding: InputEncoding) -> None:
    """uint8 is raw; int8 with scale 1/255 and zero point -128 is the XOR shift; everything else a table."""
    assert input_spec.encoding is encoding


@pytest.mark.parametrize(
    ("input_spec", "expected"),
    [
        pytest.param(spec(np.uint8, 0.0078125, 128), PIXELS, id="uint8"),
        pytest.param(spec(np.int8, 1 / 255, -128), PIXELS - 128, id="int8-shift"),
        pytest.param(spec(np.int8, 1 / 255, 0), np.clip(PIXELS, -128, 127), id="int8-clipped"),
        pytest.param(spec(np.int8, 2 / 255, -10), np.round(PIXELS / 2) - 10, id="int8-scale-2-zp-10"),
        pytest.param(
            spec(np.int8, 0.0078125, 3), np.clip(np.round(PIXELS / 255 / 0.0078125) + 3, -128, 127), id="int8-128"
        ),
        pytest.param(spec(np.float32, float_range=FloatRange.UNIT), PIXELS / 255, id="float-unit"),
        pytest.param(
            spec(np.float32, float_range=FloatRange.SYMMETRIC), (PIXELS - 127.5) / 127.5, id="float-symmetric"
        ),
    ],
)
def test_pixel_table(input_spec: InputSpec, expected: npt.NDArray[np.float64]) -> None:
    """The table maps every pixel value by q = round(p/255/scale)+zp (int8), p/255 or (p-127.5)/127.5 (float)."""
    table = pixel_table(input_spec)
    assert table.dtype == input_spec.dtype
    np.testing.assert_allclose(table.astype(np.float64), expected, atol=1e-6)


def bgr_image() -> npt.NDArray[np.uint8]:
    """A 2x4 BGR image whose every pixel differs, covering 0 and 255."""
    values = np.array([0, 255, 1, 127, 128, 200, 17, 64, 99, 250, 3, 180] * 2, dtype=np.uint8)
    return values.reshape(2, 4, 3)


@pytest.mark.parametrize(
    "input_spec",
    [
        pytest.param(spec(np.uint8, 0.0078125, 128), id="uint8"),
        pytest.param(spec(np.int8, 1 / 255, -128), id="int8-shift"),
        pytest.param(spec(np.int8, 2 / 255, -10), id="int8-table"),
        pytest.param(spec(np.float32, float_range=FloatRange.UNIT), id="float-unit"),
        pytest.param(spec(np.float32, float_range=FloatRange.SYMMETRIC), id="float-symmetric"),
    ],
)
def test_writer_encodes_rgb_into_the_given_tensor(input_spec: InputSpec) -> None:
    """Same-size frames land in the caller's tensor as RGB, each pixel mapped by the spec's table."""
    image = bgr_image()
    tensor = np.full((1, 2, 4, 3), 7, dtype=input_spec.dtype)
    InputWriter(input_spec).write(image, tensor)
    rgb = image[:, :, ::-1]
    expected = pixel_table(input_spec)[rgb]
    np.testing.assert_array_equal(tensor[0], expected)


def test_shift_equals_quantization_formula() -> None:
    """The XOR-0x80 fast path gives exactly round(p/255/scale)+zp for the YOLO input's scale and zero point."""
    scale = 0.003921568859368563
    image = np.arange(256, dtype=np.uint8).repeat(3).reshape(16, 16, 3)
    tensor = np.zeros((1, 16, 16, 3), dtype=np.int8)
    writer = InputWriter(InputSpec(16, 16, np.dtype(np.int8), scale, -128, FloatRange.UNIT))
    assert writer.encoding is InputEncoding.SHIFT
    writer.write(image, tensor)
    expected = np.round(np.arange(256) / 255 / scale) - 128
    np.testing.assert_array_equal(tensor[0, :, :, 0].reshape(-1), expected)


def test_writer_stretches_without_letterbox() -> None:
    """A wide frame is stretched to fill the whole input: left and right halves stay left and right."""
    image = np.zeros((100, 400, 3), dtype=np.uint8)
    image[:, :200] = (255, 0, 0)  # blue in BGR
    image[:, 200:] = (0, 0, 255)  # red in BGR
    tensor = np.zeros((1, 8, 8, 3), dtype=np.uint8)
    InputWriter(InputSpec(8, 8, np.dtype(np.uint8), 0.0, 0, FloatRange.UNIT)).write(image, tensor)
    np.testing.assert_array_equal(tensor[0, :, :3], np.broadcast_to([0, 0, 255], (8, 3, 3)))  # RGB blue
    np.testing.assert_array_equal(tensor[0, :, 5:], np.broadcast_to([255, 0, 0], (8, 3, 3)))  # RGB red


def test_writer_reuses_its_buffers() -> None:
    """Writing a second, different frame overwrites the first completely (no stale pixels)."""
    writer = InputWriter(spec(np.int8, 2 / 255, -10))
    tensor = np.zeros((1, 2, 4, 3), dtype=np.int8)
    writer.write(bgr_image(), tensor)
    second = np.full((2, 4, 3), 90, dtype=np.uint8)
    writer.write(second, tensor)
    assert np.all(tensor == np.round(90 / 2) - 10)


@pytest.mark.parametrize(
    "image",
    [
        pytest.param(np.zeros((4, 4), dtype=np.uint8), id="grey"),
        pytest.param(np.zeros((4, 4, 4), dtype=np.uint8), id="bgra"),
        pytest.param(np.zeros((4, 4, 3), dtype=np.float32), id="float"),
    ],
)
def test_writer_rejects_non_bgr_images(image: npt.NDArray[Any]) -> None:
    """Anything but BGR uint8 HxWx3 is refused with a message naming what came in."""
    with pytest.raises(ValueError, match="BGR uint8"):
        InputWriter(spec(np.uint8)).write(image, np.zeros((1, 2, 4, 3), dtype=np.uint8))
