"""A corrupted model file with the real agent process: the catalogue's sha256 is checked at load."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.support import assets
from tests.support.agent_process import AgentProcess, base_config, write_config
from tests.support.broker import MosquittoBroker
from tests.support.faults import corrupt_copy

pytestmark = pytest.mark.integration


def test_agent_refuses_a_catalogue_model_with_corrupted_weights(
    tmp_path: Path, broker: MosquittoBroker, topic_prefix: str
) -> None:
    """4 KiB of zeroes over the real SSD model's weights stop the agent at start with one error line naming the
    file and the digests, instead of running a detector that silently finds the wrong things."""
    model_dir = tmp_path / "models"
    model_dir.mkdir()
    model = corrupt_copy(assets.model(assets.SSD_MODEL), model_dir / assets.SSD_MODEL)
    cameras = {"walk": {"source": str(assets.video(assets.PEDESTRIANS))}}
    config = base_config(tmp_path, broker, topic_prefix, cameras, model_dir=str(model_dir))
    agent = AgentProcess(write_config(tmp_path / "agent.yaml", config))
    try:
        code = agent.wait(60)
    finally:
        agent.close()
    errors = [line for line in agent.log.splitlines() if line.startswith("error:")]
    assert code == 1, agent.log
    assert len(errors) == 1, agent.log
    assert f"model file {model} is not the catalogue's 'ssd_mobilenet_v1_coco_uint8_300'" in errors[0]
    assert "Traceback" not in agent.log
