"""What earlier evaltuis wrote in a decision record and computed differently.

A record kept before an upgrade lacks the fields later evaltuis added, and may have
been computed by other rules (significance before Holm's correction). `verify`
reads here which changes a record predates (each change is known by a field it
first wrote), recomputes the decision with the settings in force then, compares
only the fields that evaltui wrote, and says in words what changed in evaltui,
apart from what changed in the data.

A change to how a decision is computed, or to what the record holds, adds one
entry here (its marker is a field it adds; one that adds none bumps the record's
`schema`). The shapes below are those of fixtures/golden/decision.json in the
history of this repository.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any

from evaltui.gate.policy import LoadedPolicy


@dataclass(frozen=True)
class Change:
    since: str  # when, in the project's words (the issue that made it)
    marker: str  # a field this change first wrote: a record without it predates the change
    what: str  # what evaltui does differently since, for people
    # the policy settings that recompute as evaltui did before the change
    as_then: dict[str, Any] = field(default_factory=dict)


CHANGES: tuple[Change, ...] = (
    Change(
        "#15, 2026-12-01",
        "provenance.correction",
        "significance is Holm-Bonferroni adjusted across the segment table and p_adjusted "
        "recorded; rules record n, min_n, insufficient and triggers (evidence guards)",
        {"correction": "none", "min_n": 0},
    ),
    Change("#15, 2026-12-01", "provenance.event_log_head", "the record names the event log's head"),
    Change("#17, 2026-12-01", "counts.unscored", "cases with no verdict are counted as unscored"),
    Change("#18, 2026-12-01", "counts.tools_changed", "agent runs' tool-call changes are counted"),
    Change(
        "#24, 2026-12-06",
        "counts.limit_hit",
        "a sample stopped at a limit but still scored keeps the tool's verdict (the limit is a "
        "flag, and the change kind limit_hit where it is new in the candidate), no longer an error",
    ),
    Change(
        "#29, 2026-12-06",
        "provenance.taxonomy",
        "the record names the taxonomy it was made with (version and sha256)",
    ),
)


def _has(record: dict[str, Any], dotted: str) -> bool:
    node: Any = record
    for part in dotted.split("."):
        if not isinstance(node, dict) or part not in node:
            return False
        node = node[part]
    return True


def predates(record: dict[str, Any]) -> list[Change]:
    """The changes of evaltui made after this record was (empty: this evaltui's format)."""
    return [c for c in CHANGES if not _has(record, c.marker)]


def completed(record: dict[str, Any], now: dict[str, Any]) -> dict[str, Any]:
    """An earlier evaltui's record with the fields it predates taken from `now` (this
    evaltui's recomputation of it): fields evaltui did not write then cannot have changed.
    Lists are completed item by item; an item only one side has is left as it is."""
    done = _completed(record, now)
    assert isinstance(done, dict)
    return done


def _completed(old: Any, new: Any) -> Any:
    if isinstance(old, dict) and isinstance(new, dict):
        return {k: _completed(v, new[k]) if k in new else v for k, v in old.items()} | {
            k: v for k, v in new.items() if k not in old
        }
    if isinstance(old, list) and isinstance(new, list):
        return [_completed(a, b) for a, b in zip(old, new, strict=False)] + old[len(new) :]
    return old


def as_then(loaded: LoadedPolicy, changes: list[Change]) -> LoadedPolicy:
    """The policy with the settings evaltui used before `changes` (what the policy file
    could not say then, because the setting did not exist)."""
    settings: dict[str, Any] = {}
    for c in changes:
        settings.update(c.as_then)
    if not settings:
        return loaded
    return replace(loaded, policy=loaded.policy.model_copy(update=settings))


def describe(changes: list[Change]) -> str:
    """One sentence: made by an earlier evaltui, what changed since, how it was verified."""
    settings: dict[str, Any] = {}
    for c in changes:
        settings.update(c.as_then)
    how = ", ".join(f"{k} = {v!r}" for k, v in settings.items())
    return (
        "this decision was made by an earlier evaltui; since then evaltui changed: "
        + "; ".join(f"{c.what} ({c.since})" for c in changes)
        + ". It was verified on the fields that evaltui wrote"
        + (f", recomputed as it computed ({how})" if how else "")
    )
