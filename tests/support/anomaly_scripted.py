"""Scripted (non-video) anomaly scenarios: synthetic weekly count sequences for the
count baseline, tracks walking through restricted and loitering zones, and a
track history for rare objects. Used with tests/support/anomaly_scenarios.run_scenario."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator

import numpy as np

from agent.config.anomaly import AnomalyConfig
from tests.support.anomaly_scenarios import T0, Scenario, Step, Window, track

WEEK_S = 7 * 86400.0
BERLIN = "Europe/Berlin"


def _only(**kinds: object) -> AnomalyConfig:
    """A config with every kind disabled except those given (as dicts of settings)."""
    off = {k: {"enabled": False} for k in ("count", "restricted_zone", "loitering", "tamper", "stream", "rare_object")}
    return AnomalyConfig.model_validate({**off, **kinds})


def _rate(weekday: int, hour: int) -> float:
    """Mean people per minute: quiet nights, busy weekday daytime, moderate weekends."""
    if hour < 6 or hour >= 22:
        return 0.3
    if 9 <= hour < 18:
        return 10.0 if weekday < 5 else 5.0
    return 3.0


def count_scenario(weeks: int, faults: bool, seed: int = 7) -> Scenario:
    """One update per minute with Poisson person counts; the last week optionally holds a
    20-minute surge at 03:00 Tuesday and a 40-minute absence at 14:00 Thursday."""
    cfg = _only(count={"labels": ["person"]})
    test_week = (weeks - 1) * WEEK_S
    surge = (test_week + 3 * 86400 + 3 * 3600.0, test_week + 3 * 86400 + 3 * 3600.0 + 1200)  # T0 is a Saturday
    absence = (test_week + 5 * 86400 + 14 * 3600.0, test_week + 5 * 86400 + 14 * 3600.0 + 2400)
    expected = (Window("count_surge", *surge), Window("count_absence", *absence)) if faults else ()

    def steps() -> Iterator[Step]:
        rng = np.random.default_rng(seed)
        for minute in range(int(weeks * WEEK_S / 60)):
            t_s = minute * 60.0 + 1.0
            moment = dt.datetime.fromtimestamp(T0 + t_s, dt.UTC)
            n = int(rng.poisson(_rate(moment.weekday(), moment.hour)))
            if faults and surge[0] <= t_s < surge[1]:
                n = 9 + int(rng.poisson(1.0))
            if faults and absence[0] <= t_s < absence[1]:
                n = 0
            ts = T0 + t_s
            yield Step(ts, tuple(track(minute * 100 + i, "person", ts, ts) for i in range(n)))

    return Scenario(f"count:{'faults' if faults else 'normal'}", cfg, T0, steps, expected)


def _walk(ts0: float, duration_s: float, track_id: int, label: str, zone: str, dt_s: float = 0.5) -> list[Step]:
    return [
        Step(ts0 + k * dt_s, (track(track_id, label, ts0 + k * dt_s, ts0),), {track_id: (zone,)})
        for k in range(int(duration_s / dt_s))
    ]


def _idle(ts0: float, duration_s: float, dt_s: float = 1.0) -> list[Step]:
    return [Step(ts0 + k * dt_s) for k in range(int(duration_s / dt_s))]


def zone_scenarios() -> list[Scenario]:
    """Restricted yard 23:00-06:00 Berlin time, and loitering over 60 s at the entrance."""
    rule = {
        "name": "yard-night",
        "zone": "yard",
        "labels": ["person"],
        "schedule": [{"start": "23:00", "end": "06:00"}],
    }
    restricted = _only(restricted_zone={"rules": [rule]}, timezone=BERLIN)
    # T0 is 02:00 Berlin (CEST): night at T0, daytime 12 h later.
    night = [*_walk(T0, 30, 1, "person", "yard"), *_idle(T0 + 30, 30), *_walk(T0 + 60, 30, 2, "car", "yard")]
    night += [*_walk(T0 + 90, 30, 3, "person", "street"), *_idle(T0 + 120, 20)]
    day = [*_walk(T0 + 43200, 30, 4, "person", "yard"), *_idle(T0 + 43230, 20)]
    loiter = _only(loitering={"max_dwell_s": 60.0})
    passing = [*_walk(T0, 20, 1, "person", "entrance"), *_idle(T0 + 20, 10)]
    staying = [*_walk(T0 + 30, 120, 2, "person", "entrance"), *_idle(T0 + 150, 10)]
    return [
        Scenario("restricted:night", restricted, T0, lambda: iter(night), (Window("restricted_zone", 0.0, 30.0),)),
        Scenario("restricted:day", restricted, T0, lambda: iter(day), ()),
        Scenario("loitering:passing", loiter, T0, lambda: iter(passing), ()),
        Scenario("loitering:staying", loiter, T0, lambda: iter(staying), (Window("loitering", 90.0, 150.0),)),
    ]


def rare_scenario(days: int = 3) -> Scenario:
    """Days of people at all hours and cars in daytime, then a horse, then a car at 03:00."""
    cfg = _only(rare_object={"warmup_s": 86400.0, "warmup_tracks": 200})
    history_s = days * 86400.0
    horse_s, night_car_s = history_s + 10 * 3600.0, history_s + 27 * 3600.0  # 10:00 and 03:00 next day (UTC)
    expected = (Window("rare_object", horse_s, horse_s + 10), Window("rare_object", night_car_s, night_car_s + 10))

    def steps() -> Iterator[Step]:
        next_id = 1
        for minute in range(int((history_s + 28 * 3600.0) / 60)):
            t_s = minute * 60.0
            hour = int(t_s // 3600) % 24
            visitors: list[str] = []
            if minute % 5 == 0:
                visitors.append("person")
            if 7 <= hour < 20 and minute % 2 == 0 and t_s < night_car_s:
                visitors.append("car")
            if t_s in (horse_s, night_car_s):
                visitors.append("horse" if t_s == horse_s else "car")
            for k in range(0, 12 if visitors else 1):  # a visit lasts 12 s at 1 Hz
                ts = T0 + t_s + k
                yield Step(ts, tuple(track(next_id + j, label, ts, T0 + t_s) for j, label in enumerate(visitors)))
            next_id += len(visitors)

    return Scenario("rare:history", cfg, T0, steps, expected)
