"""The remote-config inbox is bounded by bytes, keeps arrival order, and turns a request that does not
fit into an answerable Overflow carrying its salvaged request_id; coalesce folds the queue in order."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from agent.config.schema import AgentConfig
from agent.remote.coalesce import coalesce
from agent.remote.document import RemotePolicy, RemoteResult, parse_patch, parse_set
from agent.remote.inbox import ConfigInbox, ConfigRequest
from agent.remote.protocol import ApplyStatus, ConfigState, RequestKind, decode_state, encode_state, salvage_request_id
from tests.support.schemas import validate_payload

RUNNING = AgentConfig.model_validate(
    {"device_id": "dev1", "model": {"path": "ssd-mobilenet"}, "cameras": {"front": {"source": "/dev/video0"}}}
)


def _request(body: dict[str, Any] | bytes, kind: RequestKind = RequestKind.PATCH) -> ConfigRequest:
    payload = body if isinstance(body, bytes) else json.dumps(body).encode()
    return ConfigRequest(kind, f"p/dev1/config/{kind.value}", payload)


def _parse(request: ConfigRequest, base: AgentConfig) -> RemoteResult:
    policy = RemotePolicy.for_running(Path("/etc/agent/agent.yaml"), RUNNING)
    parse = parse_set if request.kind is RequestKind.SET else parse_patch
    return parse(request.payload, base, policy)


def test_inbox_bounds_bytes_and_answers_overflow() -> None:
    """Requests fit until max_bytes; the next one becomes an Overflow with its request_id; take_all empties."""
    inbox = ConfigInbox(max_bytes=2048)
    first = _request({"request_id": "a", "log_level": "DEBUG", "pad": "x" * 1500})
    assert inbox.put(first)
    assert not inbox.put(_request({"request_id": "b", "pad": "y" * 1000}))
    taken = inbox.take_all()
    assert taken.requests == (first,)
    assert [(o.request_id, o.size_bytes > 1000) for o in taken.overflows] == [("b", True)]
    assert inbox.rejected_full == 1
    assert inbox.pending_bytes == 0
    assert inbox.put(_request({"request_id": "c"}))  # room again once taken


def test_a_lone_request_larger_than_the_bound_is_still_queued() -> None:
    """An empty inbox takes any one request (max_bytes of the document is checked when parsing)."""
    inbox = ConfigInbox(max_bytes=1024)
    assert inbox.put(_request({"pad": "z" * 5000}))


def test_salvage_request_id_from_unparsable_payloads() -> None:
    """JSON and YAML prefixes give up their request_id; a payload without one gives None."""
    assert salvage_request_id(b'{"request_id": "r-1", "cameras": {') == "r-1"
    assert salvage_request_id(b"request_id: r2\ncameras: [") == "r2"
    assert salvage_request_id(b"\xff\xfe garbage") is None


def test_coalesce_folds_patches_in_order_and_rejects_bad_ones_alone() -> None:
    """Patches merge in order (the last value wins, earlier keys survive), a bad one is rejected with
    its own errors, and the earlier valid ones are superseded by the last valid one."""
    requests = [
        _request({"request_id": "p1", "worker_stall_s": 11.0, "log_level": "DEBUG"}),
        _request({"request_id": "bad", "worker_stall_s": "slow"}),
        _request({"request_id": "p2", "worker_stall_s": 12.0}),
    ]
    merged = coalesce(requests, RUNNING, _parse)
    assert merged.config is not None
    assert (merged.config.worker_stall_s, merged.config.log_level) == (12.0, "DEBUG")
    assert (merged.winner_id, merged.superseded) == ("p2", ("p1",))
    assert [(r.request_id, r.errors[0].loc) for r in merged.rejected] == [("bad", "worker_stall_s")]


def test_a_full_set_resets_what_earlier_patches_did() -> None:
    """A set in the queue starts from its own document: an earlier patch's change is gone."""
    document = {**RUNNING.model_dump(mode="json"), "request_id": "s1"}
    requests = [_request({"request_id": "p1", "log_level": "DEBUG"}), _request(document, RequestKind.SET)]
    merged = coalesce(requests, RUNNING, _parse)
    assert merged.config is not None
    assert merged.config.log_level == RUNNING.log_level
    assert (merged.winner_id, merged.superseded) == ("s1", ("p1",))


def test_every_request_rejected_leaves_no_winner() -> None:
    """Only rejections: nothing to apply."""
    merged = coalesce([_request(b"{not json"), _request({"request_id": "x", "nope": 1})], RUNNING, _parse)
    assert merged.config is None
    assert [r.request_id for r in merged.rejected] == [None, "x"]


def test_success_rule_lives_on_apply_status() -> None:
    """applied, applied_restart_required and superseded succeed; rejected and rolled_back do not."""
    assert {s for s in ApplyStatus if s.succeeded} == {
        ApplyStatus.APPLIED,
        ApplyStatus.APPLIED_RESTART_REQUIRED,
        ApplyStatus.SUPERSEDED,
    }


def test_new_states_encode_to_the_schema_and_decode_back() -> None:
    """superseded and applied_restart_required payloads carry their extra field, validate, round-trip."""
    states = [
        ConfigState("ab" * 32, 1.0, ApplyStatus.SUPERSEDED, (), "burst-1", superseded_by="burst-9"),
        ConfigState(
            "ab" * 32, 1.0, ApplyStatus.APPLIED_RESTART_REQUIRED, (), "m", restart_required=("metrics.enabled",)
        ),
        ConfigState("ab" * 32, 1.0, ApplyStatus.APPLIED, (), None),
    ]
    for state in states:
        validate_payload("config-state", encode_state(state))
        assert decode_state(encode_state(state)) == state
    assert "restart_required" not in json.loads(encode_state(states[2]))
