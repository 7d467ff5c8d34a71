"""Hypothesis strategies for hostile helpdesk payloads (source translation's input).

:func:`mutated_payload` takes a real payload and spoils one to three of its values: wrong
types, nulls, huge strings, lone surrogates, NUL, deep nesting, numbers of any size. Most
mutations hit a path the kind's reader actually looks up (:func:`read_paths` records them by
reading the payload through dicts that note each lookup), so that the mutants reach the
code that could fail rather than fields nobody reads.
"""

from __future__ import annotations

import copy
import json
from typing import Any

from hypothesis import strategies as st

#: Text that cannot be kept: lone surrogates, NUL, and a long string (not a huge one: it is
#: added to every string of a part of the payload).
BAD_TEXT = ["\ud800", "\udfff", "\x00", "x" * 300]
#: Values a hostile or broken helpdesk might put anywhere in a payload; bad text (a third of
#: the draws) as a whole value or inside one.
HOSTILE_VALUES = st.one_of(
    st.sampled_from([*BAD_TEXT, "x" * 100_000, "a\udfffb", "ok\x00", "\ufeff"]),
    st.tuples(st.sampled_from(["Done", "10001"]), st.sampled_from(BAD_TEXT)).map("".join),
    st.sampled_from(
        [None, True, False, 0, -1, 2**64, 1.5, 1e308, float("nan"), float("inf"), "", " "]
    ),
    st.lists(st.sampled_from([None, 1, "Done", {"name": "Done"}]), max_size=3),
    st.dictionaries(st.sampled_from(["id", "name", "value"]), st.sampled_from([None, [1], {}])),
    st.integers(1, 60).map(lambda depth: _nested(depth, "[]")),
    st.integers(1, 60).map(lambda depth: _nested(depth, "{}")),
)


def _nested(depth: int, kind: str) -> Any:
    value: Any = 1
    for _ in range(depth):
        value = [value] if kind == "[]" else {"a": value}
    return value


def _paths(value: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    """Every path into ``value`` (dict keys, list positions), the value itself first."""
    found = [prefix]
    items = (
        value.items()
        if isinstance(value, dict)
        else enumerate(value)
        if isinstance(value, list)
        else ()
    )
    for key, inner in items:
        found += _paths(inner, (*prefix, key))
    return found


class _Tracked(dict):  # type: ignore[type-arg]
    """A payload object that notes the paths a reader looks up in it."""

    def __init__(self, value: dict[str, Any], path: tuple[Any, ...], seen: set[Any]) -> None:
        super().__init__({k: _track(v, (*path, k), seen) for k, v in value.items()})
        self.path, self.seen = path, seen

    def __getitem__(self, key: Any) -> Any:
        self.seen.add((*self.path, key))
        return super().__getitem__(key)

    def get(self, key: Any, default: Any = None) -> Any:
        self.seen.add((*self.path, key))
        return super().get(key, default)

    def __contains__(self, key: Any) -> bool:
        self.seen.add((*self.path, key))
        return super().__contains__(key)


class _TrackedList(list):  # type: ignore[type-arg]
    def __init__(self, value: list[Any], path: tuple[Any, ...], seen: set[Any]) -> None:
        super().__init__(_track(v, (*path, n), seen) for n, v in enumerate(value))
        self.path, self.seen = path, seen

    def __getitem__(self, index: Any) -> Any:
        self.seen.add((*self.path, index))
        return super().__getitem__(index)


def _track(value: Any, path: tuple[Any, ...], seen: set[Any]) -> Any:
    if isinstance(value, dict):
        return _Tracked(value, path, seen)
    if isinstance(value, list):
        return _TrackedList(value, path, seen)
    return value


def read_paths(config: Any, body: bytes) -> list[tuple[Any, ...]]:
    """The paths into ``body`` that the reader of ``config``'s kind looks up (a path it
    looks for in vain too: adding a value there counts), ticket customer and creation
    included, in a stable order. ``config`` is a ``SourceConfig``."""
    from slaclock.consumers.events import Rejected  # only the source tests need these
    from slaclock.consumers.source_readers import READERS

    seen: set[tuple[Any, ...]] = set()
    try:
        change = READERS[config.kind](config, _track(json.loads(body), (), seen))
        if change is not None:
            change.first_sight()
    except Rejected:
        pass  # a payload that cannot be mapped: what was looked up until then
    return sorted(seen, key=repr)


@st.composite
def mutated_payload(draw: Any, body: bytes, read: list[tuple[Any, ...]]) -> bytes:
    """``body`` (one JSON payload) with one to three mutations: a value replaced by a hostile
    one (wrong types, nulls, huge or invalid text, deep nesting), deleted, or wrapped in a
    list, or the string there (or every string inside) spoilt with :data:`BAD_TEXT`; written
    out as ASCII (surrogates as ``\\uXXXX`` escapes) or as UTF-8 with the surrogates' own
    bytes. Two mutations in three hit a path of ``read`` (see :func:`read_paths`)."""
    data = json.loads(body)
    for _ in range(draw(st.integers(1, 3))):
        paths = _paths(data)
        inside = [path for path in paths if isinstance(_at(data, path), dict | list)]
        hot = [path for path in read if path[:-1] in inside]
        choices = hot if hot and draw(st.integers(0, 2)) else paths[1:]
        if not choices:
            break  # nothing left inside
        *parents, last = draw(st.sampled_from(choices))
        holder = _at(data, parents)
        present = _has(holder, last)
        action = draw(st.sampled_from(["replace", "replace", "delete", "wrap", "spoil"]))
        if action == "delete" and isinstance(holder, dict):
            holder.pop(last, None)
        elif action == "wrap" and present:
            holder[last] = [holder[last]]
        elif action == "spoil" and present and isinstance(holder[last], str | dict | list):
            bad = draw(st.sampled_from(BAD_TEXT))
            if isinstance(holder[last], str):
                holder[last] += bad
            else:
                _spoil(holder[last], bad)
        elif isinstance(holder, dict) or present:
            holder[last] = copy.deepcopy(draw(HOSTILE_VALUES))  # later spoiling changes it
    text = json.dumps(data, ensure_ascii=draw(st.booleans()))
    return text.encode("utf-8", "surrogatepass")


def _has(holder: Any, key: Any) -> bool:
    if isinstance(holder, dict):
        return key in holder
    return isinstance(key, int) and 0 <= key < len(holder)


def _at(data: Any, path: Any) -> Any:
    for key in path:
        data = data[key]
    return data


def _spoil(value: Any, bad: str) -> None:
    """Every string in ``value`` (a dict or list) gets ``bad`` added, in place."""
    items = value.items() if isinstance(value, dict) else enumerate(value)
    for key, inner in list(items):
        if isinstance(inner, str):
            value[key] = inner + bad
        elif isinstance(inner, dict | list):
            _spoil(inner, bad)
