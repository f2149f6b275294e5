"""Folds the set/patch requests waiting in the inbox into one apply, in arrival order: each patch is
merged (RFC 7386) onto the config the previous ones produced, a full set starts afresh, and the last
valid request wins. Pure (parsing only); called on the config thread by agent.remote.controller."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from agent.config.schema import AgentConfig
from agent.remote.document import RemoteResult
from agent.remote.inbox import ConfigRequest
from agent.remote.protocol import ConfigIssue

Parse = Callable[[ConfigRequest, AgentConfig], RemoteResult]


@dataclass(frozen=True, slots=True)
class Rejection:
    topic: str
    request_id: str | None
    errors: tuple[ConfigIssue, ...]


@dataclass(frozen=True, slots=True)
class Coalesced:
    """`config` (None: every request was rejected) is what `winner_id`'s request asks for, with every
    earlier valid request folded in; `superseded` lists those earlier ones' request_ids (None: no id)."""

    config: AgentConfig | None
    winner_id: str | None
    superseded: tuple[str | None, ...]
    rejected: tuple[Rejection, ...]


def coalesce(requests: Sequence[ConfigRequest], running: AgentConfig, parse: Parse) -> Coalesced:
    """Parse each request against the config the valid ones before it produced; invalid ones are
    rejected on their own (with their errors) and leave the accumulated config as it was."""
    current: AgentConfig | None = None
    valid: list[str | None] = []
    rejected: list[Rejection] = []
    for request in requests:
        result = parse(request, current if current is not None else running)
        if result.config is None:
            rejected.append(Rejection(request.topic, result.request_id, result.errors))
            continue
        current = result.config
        valid.append(result.request_id)
    if current is None:
        return Coalesced(None, None, (), tuple(rejected))
    return Coalesced(current, valid[-1], tuple(valid[:-1]), tuple(rejected))


__all__ = ["Coalesced", "Rejection", "coalesce"]
