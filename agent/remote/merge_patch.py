"""JSON Merge Patch (RFC 7386): apply a patch document to a JSON-like value.

Pure: neither argument is modified and the result shares no mutable containers with
them. Called by agent.remote.document on the config thread, where remote config
is applied."""

from __future__ import annotations

import copy
from typing import Any


def apply_merge_patch(target: Any, patch: Any) -> Any:
    """Return `target` with `patch` merged in, exactly as RFC 7386 section 2 defines.

    A mapping patch merges key by key (a None value deletes the key); anything else
    (list, scalar, None) replaces the target whole. Lists are never merged."""
    return _merge(copy.deepcopy(target), patch)


def _merge(target: Any, patch: Any) -> Any:
    """RFC 7386 MergePatch on a private copy of the target, which it may change in place."""
    if not isinstance(patch, dict):
        return copy.deepcopy(patch)
    result: dict[Any, Any] = target if isinstance(target, dict) else {}
    for name, value in patch.items():
        if value is None:
            result.pop(name, None)
        else:
            result[name] = _merge(result.get(name), value)
    return result


__all__ = ["apply_merge_patch"]
