"""`edge-agent config push|status`: send a config (or merge patch) to a device or a group and
wait for the device's retained config/state answering that request.

Runs on the CLI's main thread with a real paho client (paho's loop thread delivers
messages into a queue). Exit codes: 0 applied, 1 rejected or rolled back, 2 no answer."""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import queue
import sys
import threading
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TextIO

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion, MQTTErrorCode
from pydantic import ValidationError

from agent.config.loader import ParseLimits, parse_yaml
from agent.config.schema import MqttConfig
from agent.errors import ConfigError
from agent.publish.credentials import build_tls_context, resolve_password
from agent.remote.presence import describe, presence_from, presence_topics
from agent.remote.protocol import (
    REQUEST_ID_KEY,
    ConfigState,
    ConfigTopics,
    RequestKind,
    all_states_filter,
    decode_state,
    group_patch_topic,
    state_payload,
)

EXIT_APPLIED = 0
EXIT_FAILED = 1
EXIT_NO_ANSWER = 2
DEFAULT_TIMEOUT_S = 30.0
QOS = 1
POLL_S = 0.1


@dataclass(frozen=True, slots=True)
class Answer:
    device_id: str
    state: ConfigState


class _Session:
    """One admin connection: connect, subscribe, publish; received messages land in `inbox`."""

    def __init__(self, host: str, port: int, mqtt_cfg: MqttConfig | None) -> None:
        self.inbox: queue.Queue[tuple[str, bytes]] = queue.Queue()
        self._connected = threading.Event()
        self._subscribed = threading.Event()
        self._refused = ""
        self._host, self._port = host, port
        self._client = mqtt.Client(
            CallbackAPIVersion.VERSION2, client_id=f"edge-agent-admin-{uuid.uuid4().hex[:12]}", protocol=mqtt.MQTTv311
        )
        if mqtt_cfg is not None:
            self._client.connect_timeout = mqtt_cfg.connect_timeout_s
        if mqtt_cfg is not None and mqtt_cfg.username is not None:
            self._client.username_pw_set(mqtt_cfg.username, resolve_password(mqtt_cfg))
        if mqtt_cfg is not None and mqtt_cfg.tls.enabled:
            self._client.tls_set_context(build_tls_context(mqtt_cfg.tls))
            self._client.tls_insecure_set(not mqtt_cfg.tls.verify_hostname)
        self._client.on_connect = self._on_connect
        self._client.on_subscribe = lambda *_args: self._subscribed.set()
        self._client.on_message = lambda _c, _u, msg: self.inbox.put((msg.topic, bytes(msg.payload)))

    def _on_connect(self, _client: mqtt.Client, _userdata: Any, _flags: Any, reason: Any, _props: Any) -> None:
        if reason.is_failure:
            self._refused = str(reason)
        self._connected.set()

    def open(self, topic_filter: str | list[str], deadline_mono: float) -> str | None:
        """Connect and subscribe before the deadline; None on success, else why not."""
        try:
            self._client.connect(self._host, self._port)
        except OSError as exc:
            return f"cannot connect to {self._host}:{self._port}: {exc}"
        self._client.loop_start()
        if not self._connected.wait(max(0.0, deadline_mono - time.monotonic())):
            return f"no CONNACK from {self._host}:{self._port}"
        if self._refused:
            return f"the broker refused the connection: {self._refused}"
        return self.subscribe(topic_filter, deadline_mono)

    def subscribe(self, topic_filter: str | list[str], deadline_mono: float) -> str | None:
        """Subscribe and wait for the SUBACK; None on success, else why not."""
        self._subscribed.clear()
        filters = [topic_filter] if isinstance(topic_filter, str) else topic_filter
        self._client.subscribe([(f, QOS) for f in filters])
        if not self._subscribed.wait(max(0.0, deadline_mono - time.monotonic())):
            return f"no SUBACK for {', '.join(filters)}"
        return None

    def publish(self, topic: str, payload: bytes, deadline_mono: float) -> bool:
        info = self._client.publish(topic, payload, qos=QOS)
        if info.rc != MQTTErrorCode.MQTT_ERR_SUCCESS:
            return False  # not even queued (connection lost)
        info.wait_for_publish(max(0.0, deadline_mono - time.monotonic()))
        return info.is_published()

    def close(self) -> None:
        self._client.disconnect()
        self._client.loop_stop()


def push(
    host: str,
    port: int,
    prefix: str,
    device_id: str | None,
    file: Path,
    timeout_s: float,
    *,
    patch: bool = False,
    group: str | None = None,
    expect: int | None = None,
    mqtt_cfg: MqttConfig | None = None,
    out: TextIO | None = None,
) -> int:
    """Publish `file` (a config, or with `patch` a merge patch) to a device, or as a patch to a `group`.

    Adds a fresh request_id and waits up to `timeout_s` for states echoing it: one for a
    device; for a group every answer until `expect` devices answered or the time is up.
    Prints each answer as JSON. Returns 0 applied, 1 rejected/rolled back, 2 no answer."""
    if (device_id is None) == (group is None):
        raise ConfigError("give exactly one of a device id or --group")
    request_id = uuid.uuid4().hex
    payload = envelope(file, request_id)
    if group is not None:
        topic, state_filter, wanted = group_patch_topic(prefix, group), all_states_filter(prefix), expect
    else:
        topics = ConfigTopics(prefix, str(device_id))
        topic, state_filter, wanted = topics.request(RequestKind.PATCH if patch else RequestKind.SET), topics.state(), 1
    answers = _exchange(host, port, mqtt_cfg, state_filter, (topic, payload), request_id, wanted, timeout_s, out)
    return exit_code(answers)


def status(
    host: str,
    port: int,
    prefix: str,
    device_id: str,
    timeout_s: float,
    *,
    mqtt_cfg: MqttConfig | None = None,
    out: TextIO | None = None,
) -> int:
    """Print the device's retained config/state with its presence (`device_status`, `last_seen_ts`),
    and on stderr whether that state is current. Returns 0 applied (ApplyStatus.succeeded),
    1 rejected/rolled back, 2 none.

    Availability and stats are subscribed before the state: the broker sends a connection's
    retained messages in order, so both have arrived (if retained) when the state does."""
    deadline = time.monotonic() + timeout_s
    status_topic, stats_topic = presence_topics(prefix, device_id)
    session = _Session(host, port, mqtt_cfg)
    seen: dict[str, bytes] = {}
    answer: Answer | None = None
    try:
        problem = session.open([status_topic, stats_topic], deadline) or session.subscribe(
            ConfigTopics(prefix, device_id).state(), deadline
        )
        while problem is None and answer is None and time.monotonic() < deadline:
            with contextlib.suppress(queue.Empty):
                topic, payload = session.inbox.get(timeout=POLL_S)
                seen[topic] = payload
                answer = None if topic in (status_topic, stats_topic) else _answer(topic, payload, None)
    finally:
        session.close()
    if problem is not None or answer is None:
        print(f"error: {problem or f'no config/state answer within {timeout_s:g} s'}", file=sys.stderr)
        return EXIT_NO_ANSWER
    presence = presence_from(seen.get(status_topic), seen.get(stats_topic))
    print(describe(presence, status_topic), file=sys.stderr)
    fields = {"device_status": presence.status.value, "last_seen_ts": presence.last_seen_ts}
    print(json.dumps({"device_id": device_id, **state_payload(answer.state), **fields}), file=out or sys.stdout)
    return exit_code([answer])


def envelope(file: Path, request_id: str, limits: ParseLimits | None = None) -> bytes:
    """The JSON request for `file` (YAML or JSON) with `request_id` set; ConfigError if unreadable."""
    try:
        text = file.read_bytes()
    except OSError as exc:
        raise ConfigError(f"{file}: cannot read: {exc.strerror or exc}") from exc
    document, _ = parse_yaml(text, str(file), limits if limits is not None else ParseLimits())
    document[REQUEST_ID_KEY] = request_id
    return json.dumps(document, ensure_ascii=False, default=str).encode("utf-8")


def exit_code(answers: list[Answer]) -> int:
    if not answers:
        return EXIT_NO_ANSWER
    if all(answer.state.status.succeeded for answer in answers):
        return EXIT_APPLIED
    return EXIT_FAILED


def _exchange(
    host: str,
    port: int,
    mqtt_cfg: MqttConfig | None,
    state_filter: str,
    request: tuple[str, bytes] | None,
    request_id: str | None,
    wanted: int | None,
    timeout_s: float,
    out: TextIO | None,
) -> list[Answer]:
    """Subscribe to states, publish the request, and collect matching states until `wanted` or the deadline."""
    deadline = time.monotonic() + timeout_s
    session = _Session(host, port, mqtt_cfg)
    answers: list[Answer] = []
    try:
        problem = session.open(state_filter, deadline)
        if problem is None and request is not None and not session.publish(*request, deadline):
            problem = f"the broker did not acknowledge the publish to {request[0]}"
        if problem is not None:
            print(f"error: {problem}", file=sys.stderr)
            return answers
        while (wanted is None or len(answers) < wanted) and time.monotonic() < deadline:
            answer = _next_answer(session, request_id, deadline)
            if answer is not None:
                answers.append(answer)
                print(
                    json.dumps({"device_id": answer.device_id, **state_payload(answer.state)}), file=out or sys.stdout
                )
    finally:
        session.close()
    if not answers:
        print(f"error: no config/state answer within {timeout_s:g} s", file=sys.stderr)
    return answers


def _next_answer(session: _Session, request_id: str | None, deadline_mono: float) -> Answer | None:
    try:
        topic, payload = session.inbox.get(timeout=max(0.0, min(POLL_S, deadline_mono - time.monotonic())))
    except queue.Empty:
        return None
    return _answer(topic, payload, request_id)


def _answer(topic: str, payload: bytes, request_id: str | None) -> Answer | None:
    state = decode_state(payload)
    if state is None or (request_id is not None and state.request_id != request_id):
        return None  # an older retained state, or another request's answer
    device_id = topic.split("/")[-3]  # <prefix>/<device>/config/state
    return Answer(device_id, state)


# ----- argparse wiring (called from agent.cli.main) ----------------------------------------------


def register(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add `config push` and `config status` to the edge-agent command parser."""
    config = commands.add_parser("config", help="remote configuration of devices over MQTT").add_subparsers(
        dest="config_command", required=True, metavar="ACTION"
    )
    push_cmd = config.add_parser("push", help="send a config or merge patch and wait for the device's answer")
    push_cmd.add_argument("file", type=Path, help="config document (YAML/JSON), or with --patch a JSON merge patch")
    target = push_cmd.add_mutually_exclusive_group(required=True)
    target.add_argument("--device", help="device id")
    target.add_argument("--group", help="group name: send FILE as a merge patch to every device of the group")
    push_cmd.add_argument("--patch", action="store_true", help="FILE is an RFC 7386 merge patch")
    push_cmd.add_argument("--expect", type=int, help="with --group: stop after this many answers")
    push_cmd.set_defaults(handler=cmd_push)
    status_cmd = config.add_parser("status", help="print a device's retained config/state and whether it is online")
    status_cmd.add_argument("--device", required=True, help="device id")
    status_cmd.set_defaults(handler=cmd_status)
    for sub in (push_cmd, status_cmd):
        sub.add_argument(
            "--config",
            type=Path,
            help="take broker host, port, prefix, user, password, TLS from the mqtt section of this YAML file",
        )
        sub.add_argument("--host", help="broker host (default: from --config, else 127.0.0.1)")
        sub.add_argument("--port", type=int, help="broker port (default: from --config, else 1883)")
        sub.add_argument("--prefix", help="topic prefix (default: from --config, else edge-agent)")
        sub.add_argument("--timeout", type=float, default=DEFAULT_TIMEOUT_S, help="seconds to wait for an answer")


def cmd_push(args: argparse.Namespace) -> int:
    host, port, prefix, cfg = _broker(args)
    patch = args.patch or args.group is not None
    return push(host, port, prefix, args.device, args.file, args.timeout, patch=patch, group=args.group,
                expect=args.expect, mqtt_cfg=cfg)  # fmt: skip


def cmd_status(args: argparse.Namespace) -> int:
    host, port, prefix, cfg = _broker(args)
    return status(host, port, prefix, args.device, args.timeout, mqtt_cfg=cfg)


def _broker(args: argparse.Namespace) -> tuple[str, int, str, MqttConfig]:
    """Host, port, prefix (flags first, then --config's mqtt section) and the connection settings."""
    cfg = load_mqtt_settings(args.config)
    return args.host or cfg.host, args.port or cfg.port, args.prefix or cfg.topic_prefix, cfg


def load_mqtt_settings(path: Path | None) -> MqttConfig:
    """The `mqtt` section of a YAML file (a whole agent config or just `mqtt:`); defaults without a file.

    Its password_file and TLS files resolve against the file's directory."""
    if path is None:
        return MqttConfig()
    try:
        document, _ = parse_yaml(path.read_bytes(), str(path), ParseLimits())
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read: {exc.strerror or exc}") from exc
    try:
        cfg = MqttConfig.model_validate(document.get("mqtt") or {})
    except ValidationError as exc:
        lines = [f"{path}: mqtt.{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors()]
        raise ConfigError(f"{path}: invalid mqtt section", lines) from exc
    base = path.parent.absolute()
    tls = cfg.tls.model_copy(
        update={name: _beside(base, getattr(cfg.tls, name)) for name in ("ca_file", "cert_file", "key_file")}
    )
    return cfg.model_copy(update={"password_file": _beside(base, cfg.password_file), "tls": tls})


def _beside(base: Path, path: Path | None) -> Path | None:
    return None if path is None else Path(os.path.normpath(base / path))


__all__ = [
    "EXIT_APPLIED",
    "EXIT_FAILED",
    "EXIT_NO_ANSWER",
    "Answer",
    "envelope",
    "load_mqtt_settings",
    "push",
    "register",
    "status",
]
