"""The second stage end to end: classifiers trained by `edge-agent train` on the hand-labelled crops
(tests/data/recognition), then the real agent on both shared videos with a real broker. Events of cars
carry a sub_label, the walkway state topic changes with the scene, Home Assistant gets a sensor for
it, and dataset capture saves crops of ended events.

Training and running on the same clips is the feature's own use: an operator labels crops of their
own scene and the agent then answers about that scene. Accuracy on held-out crops is measured by
tools/recognition_eval.py, not here."""

from __future__ import annotations

import itertools
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support import assets
from tests.support.agent_process import AgentProcess, base_config, write_config
from tests.support.broker import MosquittoBroker
from tests.support.recognition_data import (
    PEDESTRIANS,
    STATE_REGION,
    TRAFFIC,
    crops_of,
    object_labels,
    state_labels,
    write_image_folder,
)
from tests.support.schemas import validate
from tests.support.subscriber import Subscriber

pytestmark = pytest.mark.integration

REPO = Path(__file__).resolve().parents[2]
TRAIN_TIMEOUT_S = 240
RUN_TIMEOUT_S = 300


def train(data: Path, out: Path) -> Path:
    """`edge-agent train` as the operator runs it; the backbone comes from the shared model mirror."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("EDGE_AGENT_")}
    env["EDGE_AGENT_MODEL_DIR"] = str(assets.assets_dir() / "models")
    done = subprocess.run(
        [sys.executable, "-m", "agent", "train", "--data", str(data), "--out", str(out)],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=TRAIN_TIMEOUT_S,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines()[-1].startswith("accuracy="), done.stdout
    return out


@pytest.fixture(scope="module")
def classifiers(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("classifiers")
    cars = write_image_folder(root / "cars", crops_of(assets.video(TRAFFIC), object_labels()))
    walkway = write_image_folder(root / "walkway", crops_of(assets.video(PEDESTRIANS), state_labels()))
    return {"cars": train(cars, root / "cars.clf"), "walkway": train(walkway, root / "walkway.clf")}


def test_events_get_sub_labels_states_change_and_crops_are_captured(
    tmp_path: Path,
    broker: MosquittoBroker,
    topic_prefix: str,
    subscriber: Subscriber,
    agents: list[AgentProcess],
    classifiers: dict[str, Path],
) -> None:
    """Both videos as fast as the CPU allows: car events carry a colour sub_label, the walkway region's
    state goes between occupied and empty on a retained topic, HA discovery announces the state sensor,
    and every captured crop is an ended car event's."""
    cameras = {
        "walkway": {
            "source": str(assets.video(PEDESTRIANS)),
            "realtime": False,
            "objects": ["person"],
            "states": {"path": {"model": str(classifiers["walkway"]), "region": list(STATE_REGION), "interval_s": 1.0}},
        },
        "crossing": {"source": str(assets.video(TRAFFIC)), "realtime": False, "objects": ["car"]},
    }
    dataset_dir = tmp_path / "dataset"
    config = base_config(
        tmp_path,
        broker,
        topic_prefix,
        cameras,
        classifiers=[{"model": str(classifiers["cars"]), "labels": ["car"], "cameras": ["crossing"], "min_score": 0.4}],
        datasets={"enabled": True, "dir": str(dataset_dir), "labels": ["car"], "cameras": ["crossing"]},
        discovery={"enabled": True, "discovery_prefix": f"{topic_prefix}/ha"},
    )
    agent = AgentProcess(write_config(tmp_path / "agent.yaml", config))
    agents.append(agent)
    assert agent.wait(RUN_TIMEOUT_S) == 0, agent.log

    messages = subscriber.snapshot()
    events = [m.json() for m in messages if m.topic == f"{topic_prefix}/dev1/events"]
    for event in events:
        validate("event", event)
    cars = [e for e in events if e["label"] == "car"]
    labelled = {e["event_id"]: e["sub_label"] for e in cars if e["sub_label"] is not None}
    assert labelled, f"no car event got a sub_label among {len(cars)} car messages\n{agent.log[-3000:]}"
    assert set(labelled.values()) <= {"dark", "light", "coloured"}
    assert all(e["sub_label"] is None for e in events if e["label"] == "person")

    states = [m for m in messages if m.topic == f"{topic_prefix}/dev1/walkway/states/path"]
    values = [m.json()["value"] for m in states]
    for message in states:
        validate("state", message.json())
    assert {"occupied", "empty"} <= set(values), values
    assert all(a != b for a, b in itertools.pairwise(values)), "a state message repeated its value"

    retained = Subscriber(broker.host, broker.port, f"{topic_prefix}/dev1/walkway/states/path")
    try:
        assert retained.wait_for(lambda got: bool(got), timeout_s=10)
        assert retained.snapshot()[0].retain
        assert retained.snapshot()[0].json()["value"] == values[-1]
    finally:
        retained.close()

    sensors = [m for m in messages if m.topic.startswith(f"{topic_prefix}/ha/sensor/") and "state_path" in m.topic]
    assert sensors, [m.topic for m in messages if "/ha/" in m.topic]
    assert json.loads(sensors[0].payload)["state_topic"] == f"{topic_prefix}/dev1/walkway/states/path"

    stats = [m.json() for m in messages if m.topic == f"{topic_prefix}/dev1/stats"]
    for message in stats:
        validate("stats", message)
    workers = stats[-1]["workers"]
    assert workers["classifier"]["processed"] > 0
    assert workers["states"]["processed"] >= len(values)
    assert workers["datasets"]["processed"] > 0

    captured = sorted((dataset_dir / "unlabelled" / "crossing" / "car").glob("*.jpg"))
    ended_cars = {e["event_id"] for e in cars if e["type"] == "end"}
    assert captured, f"no crops in {dataset_dir}"
    assert {p.stem.split("_", 1)[1] for p in captured} <= ended_cars
