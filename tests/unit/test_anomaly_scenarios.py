"""A reduced anomaly scenario suite on real video frames: every kind is detected in
its labelled window and the negative scenarios (dusk, plain footage, daytime, passers-by) stay silent."""

from __future__ import annotations

import pytest

from tests.support import assets
from tests.support.anomaly_scenarios import Clip, Detection, Scenario, load_clip, run_scenario, score, video_scenarios
from tests.support.anomaly_scripted import count_scenario, rare_scenario, zone_scenarios

DURATION_S = 60.0


@pytest.fixture(scope="module")
def clip() -> Clip:
    """The pedestrians video decoded once, 40 s sampled at 5 fps, played back and forth."""
    return load_clip(assets.video(assets.PEDESTRIANS), max_s=40.0)


@pytest.fixture(scope="module")
def runs(clip: Clip) -> list[tuple[Scenario, list[Detection]]]:
    scenarios = [*video_scenarios(clip, DURATION_S), *zone_scenarios(), rare_scenario(2), count_scenario(2, True)]
    return [(s, run_scenario(s)) for s in scenarios]


@pytest.mark.timeout(120)
def test_every_kind_is_found_with_full_precision(runs: list[tuple[Scenario, list[Detection]]]) -> None:
    """Each labelled window is detected by its kind and no alarm falls outside a window."""
    scores = score(runs)
    kinds = {w.kind for s, _ in runs for w in s.expected}
    assert len(kinds) == 12
    for kind in kinds:
        assert (kind, scores[kind].recall, scores[kind].precision) == (kind, 1.0, 1.0)


@pytest.mark.timeout(120)
def test_tamper_is_detected_within_five_seconds(runs: list[tuple[Scenario, list[Detection]]]) -> None:
    """Blackout, blur, covered lens and a moved view are reported less than 5 s after they begin."""
    scores = score(runs)
    for kind in ("tamper_blackout", "tamper_blur", "tamper_covered", "tamper_moved"):
        assert max(scores[kind].delays_s) < 5.0, kind


@pytest.mark.timeout(120)
def test_negative_scenarios_stay_silent(runs: list[tuple[Scenario, list[Detection]]]) -> None:
    """Dusk, plain footage, daytime yard visits and passers-by raise nothing at all."""
    noisy = {s.name: d for s, d in runs if not s.expected and d}
    assert noisy == {}
