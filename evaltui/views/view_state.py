"""Where a reviewer left a comparison: position, filter, reducer and segments, per reviewer.

Kept in the store's settings (not the event log: it is a place, not a decision) and read
back as untrusted input: a saved view that does not check (a field out of range, an
unknown reducer, a segment name that is not one) is not applied, and the app says so.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from evaltui.compare.kinds import CHANGES, Reducer
from evaltui.compare.rows import ATTRIBUTE_NAME
from evaltui.errors import InputError, StoreError
from evaltui.store import Store

MAX_VIEW_CHARS = 64 * 1024  # a saved view is a few hundred characters


class ViewState(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    changes: list[str] = Field(default_factory=list, max_length=len(CHANGES))  # [] = the default
    segment: tuple[str, str] | None = None
    search: str = Field("", max_length=2000)
    reducer: str = Field("worst", max_length=40)
    segments: list[str] | None = Field(None, max_length=32)
    include_hidden: bool = False
    position: int = Field(1, ge=1, le=1 << 40)
    case_id: int | None = Field(None, ge=1)

    @field_validator("changes")
    @classmethod
    def _known_changes(cls, v: list[str]) -> list[str]:
        unknown = [c for c in v if c not in CHANGES]
        if unknown:
            raise ValueError(f"unknown change kind {unknown[0]!r}")
        return v

    @field_validator("reducer")
    @classmethod
    def _known_reducer(cls, v: str) -> str:
        if v != "declared":
            Reducer.parse(v)  # raises InputError: caught by `load`
        return v

    @field_validator("segments")
    @classmethod
    def _names(cls, v: list[str] | None) -> list[str] | None:
        for name in v or []:
            if len(name) > 64 or not ATTRIBUTE_NAME.match(name):
                raise ValueError(f"not a usable attribute name: {name[:40]!r}")
        return v


def key(baseline: int, candidate: int, fallback: int | None, reviewer: str) -> str:
    return f"view:{baseline}:{candidate}:{fallback or 0}:{reviewer}"


def save(
    store: Store, baseline: int, candidate: int, fallback: int | None, state: ViewState
) -> None:
    name = key(baseline, candidate, fallback, store.actor)  # each reviewer's own place
    store.set_setting(name, state.model_dump(mode="json"), log=False)


def load(store: Store, baseline: int, candidate: int, fallback: int | None) -> ViewState | None:
    """The view saved for this comparison by this reviewer; None if there is none.
    Raises InputError (naming the setting and the field) for one that does not check."""
    name = key(baseline, candidate, fallback, store.actor)
    try:  # a row that is not JSON, nested too deeply or huge: said, never a crash
        raw: Any = store.get_setting(name, limit=MAX_VIEW_CHARS)
    except StoreError as exc:
        raise InputError(f"setting {name}", exc.message.split(" is unreadable: ", 1)[-1]) from None
    if raw is None:
        return None
    try:
        return ViewState.model_validate(raw)
    except ValidationError as exc:
        err = exc.errors()[0]
        where = ".".join(str(p) for p in err["loc"]) or "(the value)"
        raise InputError(f"setting {name}", f"{where}: {err['msg']}") from None
    except InputError as exc:
        raise InputError(f"setting {name}", f"reducer: {exc.message}") from None
