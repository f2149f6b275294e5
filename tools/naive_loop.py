"""The loop a tutorial would have you write: one camera per process, OpenCV read -> resize -> invoke ->
publish every detection with paho. The baseline tools/bench.py (naive) compares the agent against.

It processes every frame in order, so when the detector is slower than the camera the frames queue up
in OpenCV/FFmpeg and the socket, and what it publishes gets older and older. Each message carries
`ts`: when the camera produced the frame, estimated as first-read time + frame index / stream fps (a
live camera emits frames at its nominal rate), and `read_ts`: when read() returned it."""

from __future__ import annotations

import argparse
import json
import sys
import time

import cv2
import numpy as np
import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion

try:
    from ai_edge_litert.interpreter import Interpreter
except ImportError:  # the tutorial's other spelling
    from tflite_runtime.interpreter import Interpreter


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--source", required=True)
    parser.add_argument("--model", required=True)
    parser.add_argument("--labels", required=True)
    parser.add_argument("--camera", default="cam0")
    parser.add_argument("--port", type=int, default=1883)
    parser.add_argument("--topic-prefix", default="naive")
    parser.add_argument("--stream-fps", type=float, default=15.0)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--min-score", type=float, default=0.5)
    args = parser.parse_args(argv)

    with open(args.labels) as handle:
        labels = handle.read().splitlines()
    interpreter = Interpreter(model_path=args.model, num_threads=args.threads)
    interpreter.allocate_tensors()
    inp = interpreter.get_input_details()[0]
    out = interpreter.get_output_details()
    _, height, width, _ = inp["shape"]

    client = mqtt.Client(CallbackAPIVersion.VERSION2)
    client.connect("127.0.0.1", args.port)
    client.loop_start()

    cap = cv2.VideoCapture(args.source)
    first_read = None
    index = 0
    while True:
        ok, frame = cap.read()
        if not ok:
            break
        read_ts = time.time()
        if first_read is None:
            first_read = read_ts
        ts = first_read + index / args.stream_fps
        index += 1
        rgb = cv2.cvtColor(cv2.resize(frame, (width, height)), cv2.COLOR_BGR2RGB)
        interpreter.set_tensor(inp["index"], np.expand_dims(rgb, 0))
        interpreter.invoke()
        boxes = interpreter.get_tensor(out[0]["index"])[0]
        classes = interpreter.get_tensor(out[1]["index"])[0]
        scores = interpreter.get_tensor(out[2]["index"])[0]
        h, w = frame.shape[:2]
        for box, cls, score in zip(boxes, classes, scores, strict=True):
            if score < args.min_score:
                continue
            ymin, xmin, ymax, xmax = box
            message = {
                "camera": args.camera,
                "frame": index,
                "label": labels[int(cls)],
                "score": float(score),
                "box": [float(xmin * w), float(ymin * h), float(xmax * w), float(ymax * h)],
                "ts": ts,
                "read_ts": read_ts,
            }
            client.publish(f"{args.topic_prefix}/{args.camera}/detection", json.dumps(message))
    client.loop_stop()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
