"""Keep the reference set honest: retire, quarantine, restore, and find stale cases. No UI.

Cases are never deleted (a trigger refuses it). A status change is one
transaction for any number of cases, with one event per case. A later import
never touches an existing case's status. See docs/lifecycle.md.
"""

from __future__ import annotations

import json
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
    actor = actor or store.actor
    changed = 0
    at = now_iso()
    with store.transaction():
        for cid in case_ids:
            row = store.conn.execute(
                "SELECT suite, case_key, status, status_reason, status_note FROM cases WHERE id = ?",
                (cid,),
            ).fetchone()
            if row is None:
                raise NotFoundError(f"no case with id {cid}")
            if row[2] == status and row[3] == reason and row[4] == note:
                continue
            store.conn.execute(
                "UPDATE cases SET status = ?, status_reason = ?, status_note = ?, status_by = ?, "
                "status_at = ? WHERE id = ?",
                (status, reason, note, actor, at, cid),
            )
            store.log_event(
                action,
                "case",
                cid,
                before={"status": row[2], "reason": row[3], "note": row[4]},
                after={"status": status, "reason": reason, "note": note},
                context={"suite": row[0], "case_key": row[1], "cases": len(case_ids)},
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


def quarantine(
    store: Store, case_ids: list[int], note: str | None = None, *, actor: str | None = None
) -> int:
    return _set_status(store, case_ids, "quarantined", reason=None, note=note or None,
                       action="case.quarantine", actor=actor)  # fmt: skip


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


def resolve_cases(store: Store, refs: list[str]) -> list[int]:
    from evaltui.review.triage import resolve_case

    return [resolve_case(store, r) for r in refs]


def list_cases(
    store: Store, *, status: str | None = None, suite: str | None = None, limit: int | None = None
) -> list[dict[str, Any]]:
    clauses, params = ["1"], []
    if status:
        clauses.append("status = ?")
        params.append(status)
    if suite:
        clauses.append("suite = ?")
        params.append(suite)
    q = (
        "SELECT id, suite, case_key, status, status_reason, status_note, status_by, status_at, "
        f"attributes FROM cases WHERE {' AND '.join(clauses)} ORDER BY suite, case_key"
    )
    if limit:
        q += f" LIMIT {int(limit)}"
    return [
        {
            "id": r[0],
            "suite": r[1],
            "case_key": r[2],
            "status": r[3],
            "reason": r[4],
            "note": r[5],
            "by": r[6],
            "at": r[7],
            "attributes": json.loads(r[8] or "{}"),
        }
        for r in store.conn.execute(q, params)
    ]


def retired_since(store: Store, at: str | None) -> list[dict[str, Any]]:
    """Cases retired after `at` (every retired case when None), oldest first."""
    q = (
        "SELECT suite, case_key, status_reason, status_by, status_at, status_note FROM cases "
        "WHERE status = 'retired'"
        + (" AND status_at > ?" if at else "")
        + " ORDER BY status_at, suite, case_key"
    )
    return [
        {"suite": r[0], "case_key": r[1], "reason": r[2], "by": r[3], "at": r[4], "note": r[5]}
        for r in store.conn.execute(q, (at,) if at else ())
    ]


def status_counts(store: Store) -> dict[str, int]:
    out: dict[str, int] = dict.fromkeys(CASE_STATUSES, 0)
    for status, n in store.conn.execute("SELECT status, COUNT(*) FROM cases GROUP BY status"):
        out[status] = n
    return out


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
                str(path), err["msg"], location=f"marker {i + 1}",
                field=".".join(str(p) for p in err["loc"]) or None,
            ) from None  # fmt: skip
        if (marker.attribute is None) == (marker.created_before is None):
            raise InputError(
                str(path), "a marker has either attribute (with values) or created_before",
                location=f"marker {i + 1}", field="attribute",
            )  # fmt: skip
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
            "rule": self.rule, "suite": self.suite, "case_key": self.case_key, "reason": self.reason,
            "evidence": self.evidence, "retire_by_default": self.preselect, "details": self.details,
        }  # fmt: skip


def _normalise(text: str) -> str:
    t = unicodedata.normalize("NFKC", text).casefold()
    t = re.sub(r"[^\w\s]", " ", t)
    return " ".join(t.split())


def stale(store: Store, *, runs: int = 3, markers: list[Marker] | None = None) -> list[Suggestion]:
    """Suggestions over the active cases, each with its evidence."""
    if runs < 2:
        raise InputError("--runs", "at least 2 runs are needed to say an outcome never changed")
    out: list[Suggestion] = []
    run_names = dict(store.conn.execute("SELECT id, name FROM runs"))
    # Per case, its last N runs (newest first) with a worst-of-N outcome per run.
    q = """
        WITH per_run AS (
            SELECT r.case_id, r.run_id, MIN(r.verdict = 'pass') AS passed
            FROM results r JOIN cases k ON k.id = r.case_id AND k.status = 'active'
            GROUP BY r.case_id, r.run_id
        ), ranked AS (
            SELECT case_id, run_id, passed,
                   ROW_NUMBER() OVER (PARTITION BY case_id ORDER BY run_id DESC) AS rn
            FROM per_run
        )
        SELECT x.case_id, k.suite, k.case_key, COUNT(*), SUM(x.passed), GROUP_CONCAT(x.run_id)
        FROM ranked x JOIN cases k ON k.id = x.case_id
        WHERE x.rn <= ?
        GROUP BY x.case_id
        HAVING COUNT(*) >= ? AND (SUM(x.passed) = COUNT(*) OR SUM(x.passed) = 0)
        ORDER BY k.suite, k.case_key
    """
    for cid, suite, key, n, passed, run_ids in store.conn.execute(q, (runs, runs)):
        ids = [int(i) for i in str(run_ids).split(",")]
        names = ", ".join(run_names.get(i, str(i)) for i in sorted(ids))
        if passed == n:
            out.append(Suggestion(
                "never_changes_decision", cid, suite, key, "never_changes_decision",
                f"passed in each of its last {n} runs ({names}); it has never changed a decision",
                True, {"runs": sorted(ids)},
            ))  # fmt: skip
        else:
            out.append(Suggestion(
                "always_fails", cid, suite, key, "bad_case",
                f"failed in each of its last {n} runs ({names}): a standing failure to report, "
                "not retire, unless the case is wrong",
                False, {"runs": sorted(ids)},
            ))  # fmt: skip
    # Duplicates: the same normalised input within a suite; the oldest case is kept.
    groups: dict[tuple[str, str], list[tuple[int, str]]] = {}
    for cid, suite, key, text in store.conn.execute(
        "SELECT id, suite, case_key, input FROM cases WHERE status = 'active' AND input <> '' ORDER BY id"
    ):
        norm = _normalise(text)
        if norm:
            groups.setdefault((suite, norm), []).append((cid, key))
    for (suite, _), members in groups.items():
        if len(members) < 2:
            continue
        _keep_id, keep_key = members[0]
        for cid, key in members[1:]:
            out.append(Suggestion(
                "duplicate", cid, suite, key, "duplicate",
                f"same input as {keep_key} (normalised: case, spacing and punctuation ignored)",
                True, {"duplicate_of": keep_key},
            ))  # fmt: skip
    # Markers of obsolescence declared in config.
    for m in markers or []:
        if m.attribute is not None:
            wanted = {str(v).lower() if isinstance(v, bool) else str(v) for v in m.values or []}
            path = '$."' + m.attribute.replace('"', '""') + '"'
            for cid, suite, key, value in store.conn.execute(
                "SELECT id, suite, case_key, json_extract(attributes, ?) FROM cases "
                "WHERE status = 'active' AND json_extract(attributes, ?) IS NOT NULL ORDER BY suite, case_key",
                (path, path),
            ):
                sval = str(value)
                if sval in wanted:
                    out.append(Suggestion(
                        "marker", cid, suite, key, m.reason,
                        f"{m.attribute} = {sval}" + (f": {m.why}" if m.why else ""),
                        True, {"attribute": m.attribute, "value": sval},
                    ))  # fmt: skip
        elif m.created_before is not None:
            for cid, suite, key, first, created in store.conn.execute(
                "SELECT k.id, k.suite, k.case_key, r.name, COALESCE(r.created_at, r.imported_at) "
                "FROM cases k JOIN runs r ON r.id = k.first_seen_run "
                "WHERE k.status = 'active' AND substr(COALESCE(r.created_at, r.imported_at), 1, 10) < ? "
                "ORDER BY k.suite, k.case_key",
                (m.created_before.isoformat(),),
            ):
                out.append(Suggestion(
                    "marker", cid, suite, key, m.reason,
                    f"first seen in {first} ({created[:10]}), before {m.created_before.isoformat()}"
                    + (f": {m.why}" if m.why else ""),
                    True, {"first_seen_run": first, "created": created},
                ))  # fmt: skip
    return out
