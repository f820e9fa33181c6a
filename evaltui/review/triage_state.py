"""The triage state as a pure function of a case's findings (docs/triage.md). No store, no UI.

Who a finding speaks for (verified or not), each identity's current opinion, whether
an adjudication counts, and the fold `effective` that `triage` writes to
`case_triage`. Findings are ordered by the reviewer's clock, then uid, never by
arrival, so stores holding the same findings agree.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from evaltui.errors import InputError
from evaltui.store.events import now_iso

# Triage as the comparison reads it from `case_triage` (alias ct; docs/gate.md). Its
# class, owner and verdict come from verified findings only (triage_state.effective).
# Triaged: a failure class or a verdict; an owner or a note alone is not triage.
TRIAGED = "(ct.class IS NOT NULL OR ct.verdict IS NOT NULL)"
# A verified (or local) reviewer speaks on the case, not only "NAME (unverified)" ones.
TRUSTED = (
    "EXISTS (SELECT 1 FROM json_each(ct.reviewers) WHERE substr(value, -13) <> ' (unverified)')"
)
# The state a row shows: `untriaged` for an owner or note alone, `unverified` for a case
# only unverified findings speak on.
SHOWN_STATE = (
    f"CASE WHEN ct.case_id IS NULL THEN NULL WHEN ct.state <> 'triaged' OR {TRIAGED} THEN ct.state "
    f"WHEN {TRUSTED} THEN 'untriaged' ELSE 'unverified' END"
)


@dataclass
class Finding:
    id: int
    uid: str
    baseline_run: int
    candidate_run: int
    case_id: int
    kind: str
    class_key: str | None
    class_name: str | None
    owner: str | None
    verdict: str | None
    note: str | None
    reviewer: str
    at: str
    undoes: str | None
    source: str
    signer: str | None = None  # the principal whose signature on the file was verified
    step: str | None = None  # JSON: the path step it points at ({run, index, tool, call_id, turn})
    case_key: str | None = None  # filled where a caller needs it (undo's confirmation)

    @classmethod
    def from_row(cls, r: tuple[Any, ...]) -> Finding:
        return cls(*r)

    @property
    def verified(self) -> bool:
        """Made in this store, or imported from a file whose verified signer is its reviewer."""
        return self.source == "local" or (self.signer is not None and self.signer == self.reviewer)

    @property
    def identity(self) -> str:
        """Whose word this is: an unverified finding never speaks for the reviewer it names."""
        return self.reviewer if self.verified else f"{self.reviewer} (unverified)"

    @property
    def key(self) -> tuple[str, str]:
        """The order of findings: the reviewer's clock, then the uid. Never arrival order,
        so the same set of findings gives the same state in any store."""
        return (self.at, self.uid)

    @property
    def empty(self) -> bool:
        """A cleared state (an undo back to nothing): not a finding."""
        return (
            self.class_key is None and self.verdict is None and not self.note and self.owner is None
        )

    def state(self) -> dict[str, Any]:
        return {
            "class": self.class_key,
            "class_name": self.class_name,
            "owner": self.owner,
            "verdict": self.verdict,
            "note": self.note,
            "step": self.step,
        }


def current_by_reviewer(rows: list[Finding]) -> dict[str, Finding]:
    """Each identity's latest row by key (labels and undos; adjudications are separate)."""
    out: dict[str, Finding] = {}
    for f in sorted(rows, key=lambda f: f.key):
        if f.kind != "adjudication":
            out[f.identity] = f
    return out


def says_something(f: Finding) -> bool:
    """A finding that takes a side: it names a failure class or a verdict. An owner or
    a note alone does not triage a case (docs/gate.md)."""
    return f.class_key is not None or f.verdict is not None


def counts_as_adjudication(f: Finding, adjudicators: list[str] | None) -> bool:
    """A verified adjudication naming a class or a verdict, by a listed adjudicator (any
    verified reviewer while the store lists none)."""
    return (
        f.kind == "adjudication"
        and f.verified
        and says_something(f)
        and (not adjudicators or f.reviewer in adjudicators)
    )


def unverified_identities(rows: list[Finding]) -> list[str]:
    """Who speaks on a case without a verified signature: shown, never counted."""
    loose = [f for f in rows if not f.verified]
    current = {i for i, f in current_by_reviewer(loose).items() if not f.empty}
    return sorted(current | {f.identity for f in loose if f.kind == "adjudication"})


def effective(rows: list[Finding], adjudicators: list[str] | None = None) -> dict[str, Any] | None:
    """The case's state from its findings: triaged, disagreement or adjudicated (or None).

    A pure function of the set of findings: they are ordered by (reviewer clock,
    uid), never by arrival, so stores that hold the same findings agree.

    Only verified findings (made here, or signed by their reviewer) decide the state,
    the class, owner and verdict: an unverified one is listed in `reviewers` as
    "NAME (unverified)" and nothing else, so it never clears, settles, replaces or
    reopens anyone's word, and never counts as triage for the gate. A case holding
    only unverified findings has a row with no class, owner or verdict.
    `classes` holds every class the current opinions name: a disagreement keeps them
    all, so a gate rule on a class never misses one.
    """
    trusted = [f for f in rows if f.verified]
    # who spoke without deciding: unverified identities, and verified adjudicators whose
    # adjudication does not count in this store (listed, so the case says it differs)
    loose = sorted({
        *unverified_identities(rows),
        *(f.reviewer for f in trusted if f.kind == "adjudication"
          and not counts_as_adjudication(f, adjudicators)),
    })  # fmt: skip
    current = {r: f for r, f in current_by_reviewer(trusted).items() if not f.empty}
    sides = [f for f in current.values() if says_something(f)]
    adjudications = sorted(
        (f for f in trusted if counts_as_adjudication(f, adjudicators)), key=lambda f: f.key
    )
    last_adj = adjudications[-1] if adjudications else None
    if last_adj is not None and all(f.key < last_adj.key for f in sides):
        return {
            "state": "adjudicated", "class": last_adj.class_key, "owner": last_adj.owner,
            "verdict": last_adj.verdict, "reviewers": sorted({*current, last_adj.reviewer, *loose}),
            "classes": [last_adj.class_key] if last_adj.class_key else [],
            "steps": _steps([last_adj]),
        }  # fmt: skip
    if not current:
        if not loose:
            return None
        return {"state": "triaged", "class": None, "owner": None, "verdict": None,
                "reviewers": loose, "classes": [], "steps": []}  # fmt: skip
    if last_adj is not None:
        # the adjudication settled what came before it: only later opinions reopen the case
        sides = [f for f in sides if f.key > last_adj.key]
    speaking = [*sides, *([last_adj] if last_adj else [])]
    opinions = {(f.class_key, f.verdict) for f in speaking}
    lead = max(speaking or current.values(), key=lambda f: f.key)
    state = "triaged" if len(opinions) <= 1 else "disagreement"
    return {
        "state": state, "class": lead.class_key, "owner": lead.owner,
        "verdict": lead.verdict, "reviewers": sorted({*current, *loose}),
        "classes": sorted({f.class_key for f in speaking if f.class_key}),
        "steps": _steps(speaking),
    }  # fmt: skip


def _steps(findings: list[Finding]) -> list[dict[str, Any]]:
    """(class, tool) of each opinion that points at a tool call, for gate rules on a tool."""
    out = []
    for f in findings:
        if f.step and f.class_key:
            try:
                tool = json.loads(f.step).get("tool")
            except (ValueError, AttributeError):
                continue
            if tool and {"class": f.class_key, "tool": tool} not in out:
                out.append({"class": f.class_key, "tool": tool})
    return sorted(out, key=lambda d: (d["class"], d["tool"]))


def stamp(rows: list[Finding]) -> str:
    """The time of a new local finding on a case: now, or just after the latest verified
    finding already there when a reviewer's clock is behind it. A relabel is then ordered
    after what it answers in every store, however the clocks differ."""
    now = now_iso()
    latest = max((f.at for f in rows if f.verified), default="")
    if latest < now:
        return now
    try:
        after = datetime.fromisoformat(latest) + timedelta(microseconds=1)
    except (ValueError, OverflowError):
        return now
    return after.astimezone(UTC).isoformat(timespec="microseconds")


UNVERIFIED_SUFFIX = " (unverified)"


def check_name(name: str, field: str, what: str = "reviewer") -> str:
    """A reviewer or adjudicator name: not empty or blank, and never one that reads as
    another's unverified identity."""
    if not name or not name.strip():
        raise InputError(field, f"the {what} name is empty")
    if name.lower().endswith(UNVERIFIED_SUFFIX):
        raise InputError(field, f"the {what} name {name!r} ends with {UNVERIFIED_SUFFIX!r}, "
                         "which marks an unverified finding")  # fmt: skip
    return name
