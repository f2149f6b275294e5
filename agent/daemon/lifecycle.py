"""Starts a built agent in order, runs the main thread's loop (readiness, stats, watchdog pings) and
stops everything in order with bounded joins. Runs on the main thread; only it starts or stops the
agent's threads (captures, detectors, analytics, snapshots, publisher, config thread)."""

from __future__ import annotations

import logging
import time

from agent.daemon.health import JOIN_TIMEOUT_S
from agent.daemon.root import RunningAgent

log = logging.getLogger(__name__)

MAIN_TICK_S = 0.25
CONFIG_JOIN_TIMEOUT_S = 10.0  # an apply under way when the stop comes may finish its camera


def start(agent: RunningAgent) -> None:
    """Exporter, broker, snapshots the second stage, store and clips, then the cameras and the pipeline, then remote config
    and its thread, then the web server."""
    if agent.metrics is not None and agent.in_force.config.metrics.enabled:
        agent.metrics.start()
    agent.publisher.start()
    agent.stats.report_outbox_loss()
    if agent.snapshot_worker is not None:
        agent.snapshot_worker.start()
    agent.second_stage.start()
    agent.local.start()
    agent.reconciler.bring_up()
    agent.pipeline.start()
    agent.remote.start()
    agent.config_worker.start()
    if agent.web is not None:
        agent.web.start()


def run(agent: RunningAgent) -> int:
    """Supervise until a stop is requested or every file source has ended; return the exit code."""
    start(agent)
    agent.readiness.announce_ready(agent.stop_requested)
    next_stats = time.monotonic() + agent.in_force.config.mqtt.stats_interval_s
    next_ping = time.monotonic()
    while not agent.stop_requested.wait(MAIN_TICK_S):
        now = time.monotonic()
        agent.readiness.tell_online_changes()
        if agent.cameras.all_sources_done():
            log.info("every source has ended and its last frame is processed; stopping")
            break
        config = agent.in_force.config
        if now >= next_stats:
            publish_stats(agent)
            next_stats = now + config.mqtt.stats_interval_s
        interval_s = agent.notifier.watchdog_interval_s
        if interval_s is not None and now >= next_ping:
            next_ping = now + interval_s / 3.0
            agent.watchdog.ping(now, config.worker_stall_s)
    shutdown(agent)
    return 0


def publish_stats(agent: RunningAgent) -> None:
    """The stats message (and what goes with it), then systemd STATUS."""
    agent.stats.publish()
    agent.readiness.tell_status()


def shutdown(agent: RunningAgent) -> None:
    """Ordered stop: capture, detection, analytics, end open events, publish offline, disconnect."""
    agent.notifier.stopping()
    stop_config_thread(agent)
    agent.cameras.stop_captures()
    if not agent.pipeline.stop(time.time(), JOIN_TIMEOUT_S):
        log.error("a pipeline thread did not stop within %.0f s; open events are not ended", JOIN_TIMEOUT_S)
    stuck = agent.second_stage.stop(JOIN_TIMEOUT_S)  # their last state changes go out before offline
    if stuck:
        log.error("second-stage workers %s did not stop within %.0f s", ", ".join(stuck), JOIN_TIMEOUT_S)
    if agent.snapshot_worker is not None:
        agent.snapshot_worker.stop()
        agent.snapshot_worker.join(JOIN_TIMEOUT_S)
    agent.local.stop(JOIN_TIMEOUT_S)  # after the pipeline: the last events' ends reach clips and the store
    if agent.web is not None:
        agent.web.stop()
    publish_stats(agent)
    agent.publisher.stop()
    if agent.metrics is not None:
        agent.metrics.stop()
    agent.notifier.close()


def stop_config_thread(agent: RunningAgent) -> None:
    """The config thread stops first, so no apply starts or stops a camera during the shutdown."""
    agent.config_worker.stop()
    if agent.config_worker.is_alive():
        agent.config_worker.join(CONFIG_JOIN_TIMEOUT_S)
    if agent.config_worker.is_alive():
        log.error("the config thread is still applying after %.0f s; stopping anyway", CONFIG_JOIN_TIMEOUT_S)
    else:
        agent.toggles.process_pending()  # a switch just before the stop is kept too
