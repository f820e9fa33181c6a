"""Leaf differences between two records: each field (of a model, or of JSON data) whose
value differs, by its path, with the value it was and the value it is now.

`verify` compares a record with the kept copy (JSON data as each holds it, which may be
in an earlier evaltui's format, or forged) and the recorded decision with the recomputed
one (both `DecisionRecord` models), and names each difference in the same words."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, Final

from pydantic import BaseModel

FieldPath = tuple[str | int, ...]


class _Absent:
    """The value of a field one side does not have."""

    def __repr__(self) -> str:
        return "<absent>"


ABSENT: Final = _Absent()


@dataclass(frozen=True, slots=True)
class Difference:
    """One leaf that differs: its path, the value it was (recorded), the value now
    (the copy compared, or the recomputation); ABSENT where a side lacks it."""

    path: FieldPath
    was: Any
    now: Any

    @property
    def where(self) -> str:
        """The path as people read it: `segments[5].candidate.rate`."""
        return dotted(self.path)

    def __str__(self) -> str:
        return f"{self.where} ({short(self.was)} -> {short(self.now)})"


def dotted(path: FieldPath) -> str:
    out = ""
    for part in path:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else part)
    return out


def short(value: Any) -> str:
    """A value in a few words: JSON for data (a string as it is), cut at 60 characters."""
    if isinstance(value, _Absent):
        return repr(value)
    if isinstance(value, BaseModel):
        value = value.model_dump(mode="json", by_alias=True)
    text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)
    return text if len(text) <= 60 else text[:57] + "…"


def _children(node: Any) -> dict[str | int, Any] | None:
    """A node's fields by name (a model by its JSON names, a mapping by key) or items by
    index (a list); None for a leaf."""
    if isinstance(node, BaseModel):
        fields = type(node).model_fields
        return {(f.alias or name): getattr(node, name) for name, f in fields.items()}
    if isinstance(node, dict):
        return dict(node)
    if isinstance(node, list | tuple):
        return dict(enumerate(node))
    return None


def leaves(node: Any, path: FieldPath = ()) -> Iterator[tuple[FieldPath, Any]]:
    """Every leaf under `node` with its path (an empty list or mapping is a leaf)."""
    children = _children(node)
    if not children:
        yield path, node
        return
    for key, child in children.items():
        yield from leaves(child, (*path, key))


def differences(was: Any, now: Any, path: FieldPath = ()) -> Iterator[Difference]:
    """The leaves that differ between `was` and `now`, in `was`'s order (fields only `now`
    has last). Models, mappings and lists are walked; a node that is a container on one
    side and a leaf (or another kind of container) on the other differs leaf by leaf."""
    a, b = _children(was), _children(now)
    if (
        a is not None
        and b is not None
        and isinstance(was, list | tuple) == isinstance(now, list | tuple)
    ):
        for key in [*a, *(k for k in b if k not in a)]:
            yield from differences(a.get(key, ABSENT), b.get(key, ABSENT), (*path, key))
        return
    if a is None and b is None:
        if was != now:
            yield Difference(path, was, now)
        return
    if not isinstance(was, _Absent):
        yield from (Difference(p, v, ABSENT) for p, v in leaves(was, path))
    if not isinstance(now, _Absent):
        yield from (Difference(p, ABSENT, v) for p, v in leaves(now, path))
