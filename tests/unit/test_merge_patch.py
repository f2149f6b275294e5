"""JSON Merge Patch follows RFC 7386, including every example of its Appendix A."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from agent.remote.merge_patch import apply_merge_patch

# RFC 7386 Appendix A: (original, patch, result).
RFC_APPENDIX_A: list[tuple[Any, Any, Any]] = [
    ({"a": "b"}, {"a": "c"}, {"a": "c"}),
    ({"a": "b"}, {"b": "c"}, {"a": "b", "b": "c"}),
    ({"a": "b"}, {"a": None}, {}),
    ({"a": "b", "b": "c"}, {"a": None}, {"b": "c"}),
    ({"a": ["b"]}, {"a": "c"}, {"a": "c"}),
    ({"a": "c"}, {"a": ["b"]}, {"a": ["b"]}),
    ({"a": {"b": "c"}}, {"a": {"b": "d", "c": None}}, {"a": {"b": "d"}}),
    ({"a": [{"b": "c"}]}, {"a": [1]}, {"a": [1]}),
    (["a", "b"], ["c", "d"], ["c", "d"]),
    ({"a": "b"}, ["c"], ["c"]),
    ({"a": "foo"}, None, None),
    ({"a": "foo"}, "bar", "bar"),
    ({"e": None}, {"a": 1}, {"e": None, "a": 1}),
    ([1, 2], {"a": "b", "c": None}, {"a": "b"}),
    ({}, {"a": {"bb": {"ccc": None}}}, {"a": {"bb": {}}}),
]

# RFC 7386 section 3: the worked example.
SECTION_3_TARGET = {
    "title": "Goodbye!",
    "author": {"givenName": "John", "familyName": "Doe"},
    "tags": ["example", "sample"],
    "content": "This will be unchanged",
}
SECTION_3_PATCH = {
    "title": "Hello!",
    "phoneNumber": "+01-123-456-7890",
    "author": {"familyName": None},
    "tags": ["example"],
}
SECTION_3_RESULT = {
    "title": "Hello!",
    "author": {"givenName": "John"},
    "tags": ["example"],
    "content": "This will be unchanged",
    "phoneNumber": "+01-123-456-7890",
}


@pytest.mark.parametrize(("original", "patch", "expected"), RFC_APPENDIX_A)
def test_rfc7386_appendix_a(original: Any, patch: Any, expected: Any) -> None:
    """Each Appendix A example gives exactly the RFC's result."""
    assert apply_merge_patch(original, patch) == expected


def test_rfc7386_section_3_example() -> None:
    """The section 3 example: replace, add, delete a nested key, replace a list whole."""
    assert apply_merge_patch(SECTION_3_TARGET, SECTION_3_PATCH) == SECTION_3_RESULT


def test_inputs_are_not_modified() -> None:
    """Neither the target nor the patch changes, and the result shares no containers with them."""
    target = {"a": {"b": [1, 2]}, "keep": {"x": 1}}
    patch = {"a": {"c": {"d": [3]}}, "gone": None}
    target_before, patch_before = copy.deepcopy(target), copy.deepcopy(patch)
    result = apply_merge_patch(target, patch)
    result["a"]["b"].append(99)
    result["a"]["c"]["d"].append(99)
    result["keep"]["x"] = 2
    assert target == target_before
    assert patch == patch_before


def test_empty_patch_is_identity() -> None:
    """An empty object patch returns an equal copy of the target."""
    target = {"a": 1, "b": {"c": [1]}}
    assert apply_merge_patch(target, {}) == target
