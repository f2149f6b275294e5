""" "Did you mean" hints for typo'd config keys and labels, from difflib's close matches.

Pure: no I/O. Called by the loader (unknown keys) and agent.config.checks (unknown labels)."""

from __future__ import annotations

import collections.abc
import difflib
import typing
from collections.abc import Iterable, Sequence
from typing import Any

from pydantic import BaseModel

CUTOFF = 0.6  # difflib's default: "persn" finds "person", "zonez" finds "zones", "xyz" finds nothing
MAX_HINTS = 3


def did_you_mean(word: str, choices: Iterable[str]) -> str:
    """` (did you mean 'a' or 'b'?)`, or "" when no choice is close to `word`."""
    matches = difflib.get_close_matches(word, list(choices), n=MAX_HINTS, cutoff=CUTOFF)
    if not matches:
        return ""
    quoted = [repr(m) for m in matches]
    listed = quoted[0] if len(quoted) == 1 else ", ".join(quoted[:-1]) + " or " + quoted[-1]
    return f" (did you mean {listed}?)"


def field_names_at(model: type[BaseModel], loc: Sequence[str | int]) -> tuple[str, ...]:
    """Field names of the sub-model that holds `loc[-1]` (a pydantic error location), or () if unknown.

    Camera names, zone names and list indexes on the way are stepped over."""
    current: type[BaseModel] | None = model
    skip = 0
    for part in loc[:-1]:
        if skip:
            skip -= 1
            continue
        if current is None or not isinstance(part, str) or part not in current.model_fields:
            return ()
        current, skip = _inner_model(current.model_fields[part].annotation)
    return tuple(current.model_fields) if current is not None else ()


def _inner_model(annotation: Any) -> tuple[type[BaseModel] | None, int]:
    """The model a field holds, and how many location parts (dict keys, indexes) sit before it."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation, 0
    origin = typing.get_origin(annotation)
    for arg in typing.get_args(annotation):
        found, depth = _inner_model(arg)
        if found is not None:
            container = origin in (dict, list, tuple, collections.abc.Mapping, collections.abc.Sequence)
            return found, depth + (1 if container else 0)
    return None, 0
