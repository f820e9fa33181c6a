"""Keep the reference set honest: retire, quarantine, restore, and find stale cases. No UI.

Cases are never deleted (a trigger refuses it). A status change is one
transaction for any number of cases, with one event per case. A later import
never touches an existing case's status. See docs/lifecycle.md.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any, Literal, get_args

from pydantic import BaseModel, ConfigDict, ValidationError

from evaltui.errors import InputError, NotFoundError
from evaltui.files import read_toml
from evaltui.models import CASE_STATUSES, CaseStatus
from evaltui.store import runs as tables
from evaltui.store.runs import CaseEntry, RetiredCase
from evaltui.store.store import Store, now_iso

RetireReason = Literal[
    "obsolete_policy",
    "outdated_source",
    "old_product_behaviour",
    "duplicate",
    "never_changes_decision",
    "bad_case",
]
REASONS: tuple[RetireReason, ...] = get_args(RetireReason)
REASON_HELP = {
    "obsolete_policy": "the policy it tests has changed",
    "outdated_source": "the source material it relies on is out of date",
    "old_product_behaviour": "it tests behaviour the product no longer has",
    "duplicate": "another case tests the same thing",
    "never_changes_decision": "it always passes and has never changed a decision",
    "bad_case": "the case itself is wrong",
}
Status = CaseStatus
MARKERS_SETTING = "stale_markers"


def _set_status(
    store: Store,
    case_ids: list[int],
    status: Status,
    *,
    reason: str | None,
    note: str | None,
    action: str,
    actor: str | None = None,
) -> int:
    """Change the status of several cases in one transaction; returns how many changed."""
    with store.transaction():
        return _change(
            store,
            case_ids,
            status,
            reason,
            note,
            action,
            actor or store.actor,
            now_iso(),
            len(case_ids),
        )


def _change(
    store: Store,
    case_ids: list[int],
    status: Status,
    reason: str | None,
    note: str | None,
    action: str,
    actor: str,
    at: str,
    cases: int,
    source: str | None = None,
) -> int:
    """The status change of `_set_status`, in the caller's transaction; `source`: where a
    change made elsewhere came from (`team:PROJECT`), kept in the logged event's context."""
    changed = 0
    for cid in case_ids:
        was = tables.case_state(store, cid)
        if was is None:
            raise NotFoundError(f"no case with id {cid}")
        if (was.status, was.reason, was.note) == (status, reason, note):
            continue
        tables.write_case_status(store, cid, status, reason, note, actor, at)
        store.log_event(
            action,
            "case",
            cid,
            before={"status": was.status, "reason": was.reason, "note": was.note},
            after={"status": status, "reason": reason, "note": note},
            context={"suite": was.suite, "case_key": was.case_key, "cases": cases}
            | ({"source": source} if source else {}),
            actor=actor,
        )
        changed += 1
    return changed


def retire(
    store: Store,
    case_ids: list[int],
    reason: str,
    note: str | None = None,
    *,
    actor: str | None = None,
) -> int:
    if reason not in REASONS:
        raise InputError("--reason", f"unknown reason {reason!r}; use one of {', '.join(REASONS)}")
    return _set_status(
        store,
        case_ids,
        "retired",
        reason=reason,
        note=note or None,
        action="case.retire",
        actor=actor,
    )


def retire_by_reason(
    store: Store,
    by_reason: dict[str, list[int]],
    note: str | None = None,
    *,
    actor: str | None = None,
) -> int:
    """Retire each group of cases with its own reason (a bulk retirement planned by
    `plan_retirement`), all in one transaction; returns how many changed."""
    unknown = next((r for r in by_reason if r not in REASONS), None)
    if unknown is not None:
        raise InputError("--reason", f"unknown reason {unknown!r}; use one of {', '.join(REASONS)}")
    actor, at = actor or store.actor, now_iso()
    cases = sum(len(ids) for ids in by_reason.values())
    with store.transaction():
        return sum(
            _change(store, ids, "retired", reason, note or None, "case.retire", actor, at, cases)
            for reason, ids in by_reason.items()
        )


def quarantine(
    store: Store, case_ids: list[int], note: str | None = None, *, actor: str | None = None
) -> int:
    return _set_status(
        store,
        case_ids,
        "quarantined",
        reason=None,
        note=note or None,
        action="case.quarantine",
        actor=actor,
    )


def set_status(
    store: Store,
    case_ids: list[int],
    status: str,
    reason: str | None = None,
    note: str | None = None,
) -> int:
    """Retire (with a reason), quarantine or restore ("active") cases: one entry for every front end."""
    if status == "retired":
        return retire(store, case_ids, reason or "bad_case", note)
    if status == "quarantined":
        return quarantine(store, case_ids, note)
    if status == "active":
        return restore(store, case_ids, note)
    raise InputError(
        "status", f"unknown case status {status!r}; use one of {', '.join(CASE_STATUSES)}"
    )


def restore(
    store: Store, case_ids: list[int], note: str | None = None, *, actor: str | None = None
) -> int:
    return _set_status(
        store,
        case_ids,
        "active",
        reason=None,
        note=note or None,
        action="case.restore",
        actor=actor,
    )


ACTIONS = {"retired": "case.retire", "quarantined": "case.quarantine", "active": "case.restore"}


def apply_shared(
    store: Store,
    case_id: int,
    status: Status,
    reason: str | None,
    note: str | None,
    actor: str,
    at: str,
    source: str,
) -> bool:
    """A status change another store made (a team event), in the caller's transaction:
    applied when it is newer than the case's current status (the latest change wins in
    every store); True when the case changed."""
    current = tables.case_status_at(store, case_id)
    if current is not None and current >= at:
        return False
    return (
        _change(store, [case_id], status, reason, note, ACTIONS[status], actor, at, 1, source) > 0
    )


def resolve_cases(store: Store, refs: list[str]) -> list[int]:
    return [tables.resolve_case(store, r) for r in refs]


def list_cases(
    store: Store, *, status: str | None = None, suite: str | None = None, limit: int | None = None
) -> list[CaseEntry]:
    """Cases with their status (who set it, when, why), by suite and key."""
    return tables.list_cases(store, status=status, suite=suite, limit=limit)


def retired_since(store: Store, at: str | None) -> list[RetiredCase]:
    """Cases retired after `at` (every retired case when None), oldest first."""
    return tables.retired_since(store, at)


def status_counts(store: Store) -> dict[str, int]:
    """How many cases have each status, every status named."""
    return dict.fromkeys(CASE_STATUSES, 0) | tables.status_counts(store)


# -- markers of obsolescence (config) ----------------------------------------------------------


class Marker(BaseModel):
    """One rule: an attribute value, or cases first seen before a date."""

    model_config = ConfigDict(extra="forbid")

    attribute: str | None = None
    values: list[str | int | float | bool] | None = None
    created_before: date | None = None
    reason: RetireReason = "obsolete_policy"
    why: str = ""


def parse_markers(path: Path) -> list[Marker]:
    data, _, _ = read_toml(path, "markers file")
    items = data.get("marker")
    if set(data) - {"marker"} or not isinstance(items, list):
        raise InputError(str(path), "a markers file holds [[marker]] tables only", field="marker")
    out = []
    for i, item in enumerate(items):
        try:
            marker = Marker.model_validate(item)
        except ValidationError as exc:
            err = exc.errors(include_url=False)[0]
            raise InputError(
                str(path),
                err["msg"],
                location=f"marker {i + 1}",
                field=".".join(str(p) for p in err["loc"]) or None,
            ) from None
        if (marker.attribute is None) == (marker.created_before is None):
            raise InputError(
                str(path),
                "a marker has either attribute (with values) or created_before",
                location=f"marker {i + 1}",
                field="attribute",
            )
        if marker.attribute is not None and not marker.values:
            raise InputError(
                str(path),
                "an attribute marker needs values",
                location=f"marker {i + 1}",
                field="values",
            )
        out.append(marker)
    return out


def load_markers(store: Store, path: Path | None = None) -> list[Marker]:
    if path is not None:
        return parse_markers(path)
    saved = store.get_setting(MARKERS_SETTING) or []
    return [Marker.model_validate(m) for m in saved]


def save_markers(store: Store, markers: list[Marker]) -> None:
    store.set_setting(
        MARKERS_SETTING, [m.model_dump(mode="json", exclude_none=True) for m in markers]
    )


# -- stale suggestions ----------------------------------------------------------------------------


@dataclass
class Suggestion:
    rule: str  # never_changes_decision | always_fails | duplicate | marker
    case_id: int
    suite: str
    case_key: str
    reason: str  # the retire reason it proposes
    evidence: str
    preselect: bool  # offered ticked in the app (standing failures are not)
    details: dict[str, Any] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return {
            "rule": self.rule,
            "suite": self.suite,
            "case_key": self.case_key,
            "reason": self.reason,
            "evidence": self.evidence,
            "retire_by_default": self.preselect,
            "details": self.details,
        }


def _normalise(text: str) -> str:
    t = unicodedata.normalize("NFKC", text).casefold()
    t = re.sub(r"[^\w\s]", " ", t)
    return " ".join(t.split())


def stale(store: Store, *, runs: int = 3, markers: list[Marker] | None = None) -> list[Suggestion]:
    """Suggestions over the active cases, each with its evidence."""
    if runs < 2:
        raise InputError("--runs", "at least 2 runs are needed to say an outcome never changed")
    out: list[Suggestion] = []
    run_names = tables.run_names(store)
    # Per case, its last N runs with a worst-of-N outcome per run: the same in each.
    for (cid, suite, key), n, passed, ids in tables.steady_cases(store, runs):
        names = ", ".join(run_names.get(i, str(i)) for i in sorted(ids))
        if passed == n:
            out.append(
                Suggestion(
                    "never_changes_decision",
                    cid,
                    suite,
                    key,
                    "never_changes_decision",
                    f"passed in each of its last {n} runs ({names}); it has never changed a decision",
                    True,
                    {"runs": sorted(ids)},
                )
            )
        else:
            out.append(
                Suggestion(
                    "always_fails",
                    cid,
                    suite,
                    key,
                    "bad_case",
                    f"failed in each of its last {n} runs ({names}): a standing failure to report, "
                    "not retire, unless the case is wrong",
                    False,
                    {"runs": sorted(ids)},
                )
            )
    # Duplicates: the same normalised input within a suite; the oldest case is kept.
    groups: dict[tuple[str, str], list[tuple[int, str]]] = {}
    for (cid, suite, key), text in tables.active_inputs(store):
        norm = _normalise(text)
        if norm:
            groups.setdefault((suite, norm), []).append((cid, key))
    for (suite, _), members in groups.items():
        if len(members) < 2:
            continue
        _keep_id, keep_key = members[0]
        for cid, key in members[1:]:
            out.append(
                Suggestion(
                    "duplicate",
                    cid,
                    suite,
                    key,
                    "duplicate",
                    f"same input as {keep_key} (normalised: case, spacing and punctuation ignored)",
                    True,
                    {"duplicate_of": keep_key},
                )
            )
    # Markers of obsolescence declared in config.
    for m in markers or []:
        if m.attribute is not None:
            wanted = {str(v).lower() if isinstance(v, bool) else str(v) for v in m.values or []}
            for (cid, suite, key), value in tables.active_attribute(store, m.attribute):
                sval = str(value)
                if sval in wanted:
                    out.append(
                        Suggestion(
                            "marker",
                            cid,
                            suite,
                            key,
                            m.reason,
                            f"{m.attribute} = {sval}" + (f": {m.why}" if m.why else ""),
                            True,
                            {"attribute": m.attribute, "value": sval},
                        )
                    )
        elif m.created_before is not None:
            day = m.created_before.isoformat()
            for (cid, suite, key), first, created in tables.active_first_seen_before(store, day):
                out.append(
                    Suggestion(
                        "marker",
                        cid,
                        suite,
                        key,
                        m.reason,
                        f"first seen in {first} ({created[:10]}), before {m.created_before.isoformat()}"
                        + (f": {m.why}" if m.why else ""),
                        True,
                        {"first_seen_run": first, "created": created},
                    )
                )
    return out


# -- a bulk retirement of suggestions -------------------------------------------------------------

# When a case is suggested under two rules, the reason of the first of these is kept: a
# declared marker, then a duplicate, then a case that never changes a decision.
RULE_ORDER = ("marker", "duplicate", "never_changes_decision", "always_fails")


@dataclass
class RetirePlan:
    """What a bulk retirement of selected suggestions writes, and what it says first."""

    by_reason: dict[str, list[int]]  # reason -> case ids, each case once
    rows: int  # suggestions selected (a case may be one under two rules)
    twice: list[tuple[str, list[str], str]]  # (suite/key, its rules, the reason kept)
    report_only: list[str]  # standing failures selected: suite/key
    overridden: dict[str, int]  # rule -> cases retired with another reason than it proposes

    @property
    def cases(self) -> int:
        return sum(len(ids) for ids in self.by_reason.values())


def plan_retirement(picked: list[Suggestion], reason: str | None = None) -> RetirePlan:
    """Each selected case once, with the reason its kind proposes (`never_changes_decision`,
    `duplicate`, a marker's own reason, `bad_case` for a standing failure: retiring one
    says the case itself is wrong), or `reason` for all."""
    by_case: dict[int, list[Suggestion]] = {}
    for s in picked:
        by_case.setdefault(s.case_id, []).append(s)
    rank = {rule: i for i, rule in enumerate(RULE_ORDER)}
    by_reason: dict[str, list[int]] = {}
    twice: list[tuple[str, list[str], str]] = []
    report_only: list[str] = []
    overridden: dict[str, int] = {}
    for cid, found in by_case.items():
        first = min(found, key=lambda s: rank.get(s.rule, len(rank)))
        chosen = reason or first.reason
        by_reason.setdefault(chosen, []).append(cid)
        key = f"{first.suite}/{first.case_key}"
        if len(found) > 1:
            twice.append((key, [s.rule for s in found], chosen))
        if first.rule == "always_fails":
            report_only.append(key)
        if chosen != first.reason:
            overridden[first.rule] = overridden.get(first.rule, 0) + 1
    order = [*REASONS, *by_reason]  # in the reasons' order (any other is refused on write)
    ordered = {r: by_reason[r] for r in dict.fromkeys(order) if r in by_reason}
    return RetirePlan(ordered, len(picked), twice, report_only, overridden)
