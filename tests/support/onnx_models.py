"""ONNX detectors of other families than the shared YOLOX file, made at test time from it with the
`onnx` helper API (nothing is downloaded and no model file is committed).

- `yolov8_style(...)`: YOLOX-nano behind a YOLOv8/YOLO11-style interface. Input `images` [1,3,416,416]
  RGB in [0,1] (Ultralytics' convention): nodes in front scale it by 255 and reverse the channels into
  YOLOX's BGR 0-255. Output `output0` [1,84,3549]: nodes after YOLOX's grid output decode it as YOLOX
  does (centre = (offset + cell) x stride, size = exp(raw) x stride, in input pixels) and multiply
  objectness into the 80 class scores, then transpose: cx, cy, w, h + 80 class scores per anchor,
  no objectness, exactly the layout of an Ultralytics export.
- `end_to_end(...)`: the same, ending in ONNX NonMaxSuppression (per class, IoU 0.5, score 0.05, at
  most 100 boxes per class) and gathers: outputs `boxes` [1,K,4] x1 y1 x2 y2 in input pixels,
  `scores` [1,K] float and `classes` [1,K] int64, K varying per frame.
- `unknown_layout(...)`: a small real graph whose one output [1,3] matches no detector layout.
The decoding here is written independently of agent/detect/yolox.py (its own meshgrid)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

from tests.support import assets

YOLOX_MODEL = "yolox_nano_416.onnx"
SIDE = 416
STRIDES = (8, 16, 32)
CLASSES = 80


def _grid() -> tuple[np.ndarray, np.ndarray]:
    """(1, N, 2) cells x, y and (1, N, 1) strides in YOLOX's anchor order (row-major per stride)."""
    cells, strides = [], []
    for stride in STRIDES:
        side = SIDE // stride
        yv, xv = np.meshgrid(np.arange(side), np.arange(side), indexing="ij")
        cells.append(np.stack([xv, yv], axis=-1).reshape(-1, 2))
        strides.append(np.full((side * side, 1), stride))
    return (
        np.concatenate(cells)[None].astype(np.float32),
        np.concatenate(strides)[None].astype(np.float32),
    )


def _const(name: str, value: np.ndarray) -> onnx.TensorProto:
    return numpy_helper.from_array(value, name)


def _wrapped_yolox() -> tuple[onnx.ModelProto, list[onnx.NodeProto], list[onnx.TensorProto]]:
    """The YOLOX model with its input renamed, and the front nodes RGB [0,1] `images` -> its BGR 0-255 input;
    also decode nodes giving `xyxy` [1,N,4] pixels, `xywh` [1,N,4] and `anchor_scores` [1,N,80]."""
    model = onnx.load(str(assets.model(YOLOX_MODEL)))
    graph = model.graph
    old_input = graph.input[0].name
    raw_output = graph.output[0].name
    inner = "yolox_bgr_255"
    for node in graph.node:
        renamed = [inner if name == old_input else name for name in node.input]
        del node.input[:]
        node.input.extend(renamed)
    cells, strides = _grid()
    inits = [
        _const("k255", np.array(255.0, dtype=np.float32)),
        _const("bgr_order", np.array([2, 1, 0], dtype=np.int64)),
        _const("cells", cells),
        _const("strides", strides),
        _const("half", np.array(0.5, dtype=np.float32)),
        *(_const(f"at{i}", np.array([i], dtype=np.int64)) for i in (0, 2, 4, 5, 85)),
        _const("axis2", np.array([2], dtype=np.int64)),
    ]
    front = [
        helper.make_node("Mul", ["images", "k255"], ["scaled"]),
        helper.make_node("Gather", ["scaled", "bgr_order"], [inner], axis=1),
    ]
    decode = [
        helper.make_node("Slice", [raw_output, "at0", "at2", "axis2"], ["offsets"]),
        helper.make_node("Slice", [raw_output, "at2", "at4", "axis2"], ["log_sizes"]),
        helper.make_node("Slice", [raw_output, "at4", "at5", "axis2"], ["objectness"]),
        helper.make_node("Slice", [raw_output, "at5", "at85", "axis2"], ["class_scores"]),
        helper.make_node("Add", ["offsets", "cells"], ["cell_centres"]),
        helper.make_node("Mul", ["cell_centres", "strides"], ["centres"]),
        helper.make_node("Exp", ["log_sizes"], ["cell_sizes"]),
        helper.make_node("Mul", ["cell_sizes", "strides"], ["sizes"]),
        helper.make_node("Mul", ["objectness", "class_scores"], ["anchor_scores"]),
        helper.make_node("Concat", ["centres", "sizes"], ["xywh"], axis=2),
        helper.make_node("Mul", ["sizes", "half"], ["half_sizes"]),
        helper.make_node("Sub", ["centres", "half_sizes"], ["top_left"]),
        helper.make_node("Add", ["centres", "half_sizes"], ["bottom_right"]),
        helper.make_node("Concat", ["top_left", "bottom_right"], ["xyxy"], axis=2),
    ]
    return model, front + decode, inits


def _finish(
    model: onnx.ModelProto,
    nodes: list[onnx.NodeProto],
    inits: list[onnx.TensorProto],
    outputs: list[onnx.ValueInfoProto],
) -> onnx.ModelProto:
    graph = model.graph
    ordered = nodes[:2] + list(graph.node) + nodes[2:]
    del graph.node[:]
    graph.node.extend(ordered)
    graph.initializer.extend(inits)
    del graph.input[:]
    graph.input.append(helper.make_tensor_value_info("images", TensorProto.FLOAT, [1, 3, SIDE, SIDE]))
    del graph.output[:]
    graph.output.extend(outputs)
    onnx.checker.check_model(model)
    return model


def yolov8_style(path: Path) -> Path:
    """Write the YOLOv8/YOLO11-style model (see the module docstring) to `path`."""
    model, nodes, inits = _wrapped_yolox()
    nodes += [
        helper.make_node("Concat", ["xywh", "anchor_scores"], ["per_anchor"], axis=2),
        helper.make_node("Transpose", ["per_anchor"], ["output0"], perm=[0, 2, 1]),
    ]
    n = sum((SIDE // s) ** 2 for s in STRIDES)
    out = helper.make_tensor_value_info("output0", TensorProto.FLOAT, [1, 4 + CLASSES, n])
    onnx.save(_finish(model, nodes, inits, [out]), str(path))
    return path


def end_to_end(path: Path) -> Path:
    """Write the end-to-end model (see the module docstring) to `path`."""
    model, nodes, inits = _wrapped_yolox()
    inits += [
        _const("max_per_class", np.array([100], dtype=np.int64)),
        _const("iou", np.array([0.5], dtype=np.float32)),
        _const("min_score", np.array([0.05], dtype=np.float32)),
        _const("col1", np.array(1, dtype=np.int64)),
        _const("col2", np.array(2, dtype=np.int64)),
    ]
    nodes += [
        helper.make_node("Transpose", ["anchor_scores"], ["class_major"], perm=[0, 2, 1]),
        helper.make_node("NonMaxSuppression", ["xyxy", "class_major", "max_per_class", "iou", "min_score"], ["picked"]),
        helper.make_node("Gather", ["picked", "col2"], ["anchor_ids"], axis=1),
        helper.make_node("Gather", ["picked", "col1"], ["class_ids"], axis=1),
        helper.make_node("GatherND", ["class_major", "picked"], ["picked_scores"]),
        helper.make_node("Gather", ["xyxy", "anchor_ids"], ["picked_boxes"], axis=1),
        helper.make_node("Identity", ["picked_boxes"], ["boxes"]),
        helper.make_node("Unsqueeze", ["picked_scores"], ["scores"], axes=[0]),  # opset 11: axes attribute
        helper.make_node("Unsqueeze", ["class_ids"], ["classes"], axes=[0]),
    ]
    outputs = [
        helper.make_tensor_value_info("boxes", TensorProto.FLOAT, [1, "K", 4]),
        helper.make_tensor_value_info("scores", TensorProto.FLOAT, [1, "K"]),
        helper.make_tensor_value_info("classes", TensorProto.INT64, [1, "K"]),
    ]
    onnx.save(_finish(model, nodes, inits, outputs), str(path))
    return path


def unknown_layout(path: Path) -> Path:
    """A 32x32 RGB image in, its per-channel mean [1,3] out: a real graph no detector layout fits."""
    nodes = [helper.make_node("ReduceMean", ["images"], ["means"], axes=[2, 3], keepdims=0)]
    graph = helper.make_graph(
        nodes,
        "channel_means",
        [helper.make_tensor_value_info("images", TensorProto.FLOAT, [1, 3, 32, 32])],
        [helper.make_tensor_value_info("means", TensorProto.FLOAT, [1, 3])],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
    onnx.checker.check_model(model)
    onnx.save(model, str(path))
    return path
