"""The triage state as a pure function of a case's findings (docs/triage.md). No store, no UI.

The review layer's typed records (a `Finding`, its `Opinion` and `StepRef`, a case's
`CaseState`, the listing's `CaseFinding`, a pair's `Agreement`); who a finding speaks
for (verified or not), each identity's current opinion, whether an adjudication
counts, and the fold `effective` that `triage` writes to `case_triage`. Findings are
ordered by the reviewer's clock, then uid, never by arrival, so stores holding the
same findings agree.
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from itertools import combinations
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from evaltui.errors import InputError
from evaltui.models import FINDING_VERDICTS, StepRef
from evaltui.review.taxonomy import FailureClass
from evaltui.stats import cohen_kappa
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


Kind = Literal["label", "undo", "adjudication"]
State = Literal["triaged", "disagreement", "adjudicated"]


def step_from_json(text: str | None) -> StepRef | None:
    """A stored step (`findings.step`) as the model: the store's own JSON, read as written
    (not checked again: a tool name longer than a file allows is still the call it points
    at); None for no step, or for text that is not a step's object."""
    if not text:
        return None
    try:
        obj = json.loads(text)
    except ValueError:
        return None
    if not isinstance(obj, dict) or "run" not in obj or "index" not in obj:
        return None
    return StepRef.model_construct(**{k: obj.get(k) for k in StepRef.model_fields})


def step_to_json(step: StepRef | None) -> str | None:
    """A step as `findings.step` stores it (and the event log records it): sorted keys."""
    return json.dumps(step.model_dump(), sort_keys=True) if step is not None else None


@dataclass(frozen=True)
class Opinion:
    """What a finding says on a case: the fields a reviewer sets (all None: nothing)."""

    class_key: str | None = None
    class_name: str | None = None
    owner: str | None = None
    verdict: str | None = None
    note: str | None = None
    step: StepRef | None = None  # the tool call of the agent's path it points at

    def logged(self) -> dict[str, Any]:
        """As the event log records it (an action's `before` and `after`)."""
        return {
            "class": self.class_key,
            "class_name": self.class_name,
            "owner": self.owner,
            "verdict": self.verdict,
            "note": self.note,
            "step": step_to_json(self.step),
        }


UNSET: Any = object()  # an action's field not given: the reviewer's value is kept


def check_verdict(verdict: str | Any | None) -> None:
    if verdict is not UNSET and verdict is not None and verdict not in FINDING_VERDICTS:
        raise InputError(
            "--verdict", f"unknown verdict {verdict!r}; use one of {', '.join(FINDING_VERDICTS)}"
        )


def relabelled(
    was: Opinion,
    *,
    failure_class: FailureClass | Any | None = UNSET,
    owner: str | Any | None = UNSET,
    verdict: str | Any | None = UNSET,
    note: str | Any | None = UNSET,
    step: StepRef | Any | None = UNSET,
) -> Opinion:
    """A reviewer's opinion after one action (`triage.label`): fields not given keep their
    value; setting a class resets the owner to the class's owner unless an owner is given,
    and points the finding at `step` or at no step when none is given."""
    given: dict[str, Any] = {}
    if failure_class is not UNSET:
        given["step"] = None  # a class points at no step unless one is given
        if failure_class is None:
            given |= {"class_key": None, "class_name": None}
        else:
            given |= {"class_key": failure_class.key, "class_name": failure_class.name}
            if owner is UNSET:
                given["owner"] = failure_class.owner
    if step is not UNSET:
        given["step"] = step or None
    if owner is not UNSET:
        given["owner"] = owner or None
    if verdict is not UNSET:
        given["verdict"] = verdict
    if note is not UNSET:
        given["note"] = note or None
    return replace(was, **given)


@dataclass(frozen=True)
class Draft:
    """A finding before the store numbers it (`triage.append`)."""

    uid: str
    baseline_run: int
    candidate_run: int
    case_id: int
    kind: Kind
    opinion: Opinion
    reviewer: str
    at: str
    undoes: str | None = None
    source: str = "local"  # "local", or "import:FILE"
    signer: str | None = None  # the principal whose signature on the file was verified


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
    step: StepRef | None = None  # the path step it points at (agent runs)
    case_key: str | None = None  # filled where a caller needs it (undo's confirmation)

    @classmethod
    def from_row(cls, r: tuple[Any, ...]) -> Finding:
        """From a `findings` row in `triage.COLS` order."""
        finding = cls(*r[:16])
        finding.step = step_from_json(r[16])
        return finding

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

    @property
    def opinion(self) -> Opinion:
        return Opinion(
            self.class_key, self.class_name, self.owner, self.verdict, self.note, self.step
        )


@dataclass(frozen=True)
class ClassAtTool:
    """A class an opinion names at a tool call of the path (gate rules on a tool)."""

    class_key: str
    tool: str


@dataclass(frozen=True)
class CaseState:
    """A case's state from its findings, as `case_triage` holds it (`effective`)."""

    state: State
    class_key: str | None
    owner: str | None
    verdict: str | None
    reviewers: tuple[str, ...]  # identities that speak, unverified ones as "NAME (unverified)"
    classes: tuple[str, ...]  # every class the current opinions name
    steps: tuple[ClassAtTool, ...] = ()

    def steps_json(self) -> str:
        """`case_triage.steps`: [{"class", "tool"}, ...]."""
        return json.dumps([{"class": s.class_key, "tool": s.tool} for s in self.steps])


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


def effective(rows: list[Finding], adjudicators: list[str] | None = None) -> CaseState | None:
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
    loose = sorted(
        {
            *unverified_identities(rows),
            *(
                f.reviewer
                for f in trusted
                if f.kind == "adjudication" and not counts_as_adjudication(f, adjudicators)
            ),
        }
    )
    current = {r: f for r, f in current_by_reviewer(trusted).items() if not f.empty}
    sides = [f for f in current.values() if says_something(f)]
    adjudications = sorted(
        (f for f in trusted if counts_as_adjudication(f, adjudicators)), key=lambda f: f.key
    )
    last_adj = adjudications[-1] if adjudications else None
    if last_adj is not None and all(f.key < last_adj.key for f in sides):
        return CaseState(
            "adjudicated",
            last_adj.class_key,
            last_adj.owner,
            last_adj.verdict,
            reviewers=tuple(sorted({*current, last_adj.reviewer, *loose})),
            classes=(last_adj.class_key,) if last_adj.class_key else (),
            steps=_steps([last_adj]),
        )
    if not current:
        if not loose:
            return None
        return CaseState("triaged", None, None, None, reviewers=tuple(loose), classes=())
    if last_adj is not None:
        # the adjudication settled what came before it: only later opinions reopen the case
        sides = [f for f in sides if f.key > last_adj.key]
    speaking = [*sides, *([last_adj] if last_adj else [])]
    opinions = {(f.class_key, f.verdict) for f in speaking}
    lead = max(speaking or current.values(), key=lambda f: f.key)
    return CaseState(
        "triaged" if len(opinions) <= 1 else "disagreement",
        lead.class_key,
        lead.owner,
        lead.verdict,
        reviewers=tuple(sorted({*current, *loose})),
        classes=tuple(sorted({f.class_key for f in speaking if f.class_key})),
        steps=_steps(speaking),
    )


def _steps(findings: list[Finding]) -> tuple[ClassAtTool, ...]:
    """(class, tool) of each opinion that points at a tool call, for gate rules on a tool."""
    out: list[ClassAtTool] = []
    for f in findings:
        tool = f.step.tool if f.step is not None else None
        if tool and f.class_key and ClassAtTool(f.class_key, tool) not in out:
            out.append(ClassAtTool(f.class_key, tool))
    return tuple(sorted(out, key=lambda s: (s.class_key, s.tool)))


class RunName(BaseModel):
    """A run as a findings file names it (its `baseline` and `candidate`)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str
    sha256: str


@dataclass(frozen=True)
class NamedFinding:
    """A finding with its runs and its case by name (`triage.in_file_order`): what a
    findings file and an OTLP event say about it."""

    finding: Finding
    baseline: RunName
    candidate: RunName
    suite: str
    case_key: str


# -- what listing and agreement show (`findings list`, `findings agreement`) -----------------

ShownState = Literal["triaged", "disagreement", "adjudicated", "untriaged", "unverified"]


class CaseFinding(BaseModel):
    """A case with a finding as `findings list` shows it; its `--json` row (docs/triage.md)."""

    model_config = ConfigDict(frozen=True, serialize_by_alias=True)

    baseline: str
    candidate: str
    suite: str
    case_key: str
    state: ShownState
    class_key: str | None = Field(serialization_alias="class")
    owner: str | None
    verdict: str | None
    reviewers: list[str]
    updated_at: str
    note: str | None  # the latest verified note (an unverified one where nothing verified is)
    note_by: str | None  # who wrote it
    unverified: list[str]  # the unverified identities
    uncounted_adjudications: int  # kept here, not counted: unverified, or by one not listed


def shown_state(
    stored: State, class_key: str | None, verdict: str | None, reviewers: list[str]
) -> ShownState:
    """A `case_triage` state as SHOWN_STATE says it: `untriaged` for an owner or a note
    alone, `unverified` for a case only unverified findings speak on."""
    if stored == "triaged" and class_key is None and verdict is None:
        spoken = any(not n.endswith(UNVERIFIED_SUFFIX) for n in reviewers)
        return "untriaged" if spoken else "unverified"
    return stored


def latest_note(rows: list[Finding], adjudicators: list[str] | None) -> Finding | None:
    """The finding whose note a case shows: the latest verified current opinion or
    counted adjudication with a note (an unverified one only where nothing verified is)."""
    noted = [f for f in current_by_reviewer(rows).values() if f.note]
    noted += [f for f in rows if f.note and counts_as_adjudication(f, adjudicators)]
    verified = [f for f in noted if f.verified]
    return max(verified or noted, key=lambda f: f.key) if noted else None


def uncounted_adjudications(rows: list[Finding], adjudicators: list[str] | None) -> int:
    """Adjudications a store keeps but does not count (unverified, or by one not listed)."""
    return sum(
        1 for f in rows if f.kind == "adjudication" and not counts_as_adjudication(f, adjudicators)
    )


class Agreement(BaseModel):
    """One reviewer pair: cases both labelled, percent agreement and Cohen's kappa on
    class and on verdict (`findings agreement`; its `--json` row)."""

    model_config = ConfigDict(frozen=True)

    reviewers: list[str]
    cases: int
    class_agreement: float | None
    class_kappa: float | None
    verdict_agreement: float | None
    verdict_kappa: float | None


def pairwise_agreement(rows: Iterable[Finding]) -> list[Agreement]:
    """Per reviewer pair, over each case's current opinions (the findings in any order)."""
    by_case: dict[tuple[int, int, int], list[Finding]] = defaultdict(list)
    for f in rows:
        by_case[(f.baseline_run, f.candidate_run, f.case_id)].append(f)
    labels: dict[str, dict[tuple[int, int, int], Finding]] = defaultdict(dict)
    for key, fs in by_case.items():
        for reviewer, f in current_by_reviewer(fs).items():
            if not f.empty:
                labels[reviewer][key] = f
    out = []
    for r1, r2 in combinations(sorted(labels), 2):
        both = sorted(set(labels[r1]) & set(labels[r2]))
        cls_pairs = [(labels[r1][k].class_key, labels[r2][k].class_key) for k in both]
        ver_pairs = [(labels[r1][k].verdict, labels[r2][k].verdict) for k in both]
        out.append(
            Agreement(
                reviewers=[r1, r2],
                cases=len(both),
                class_agreement=(sum(a == b for a, b in cls_pairs) / len(both)) if both else None,
                class_kappa=cohen_kappa(cls_pairs),
                verdict_agreement=(sum(a == b for a, b in ver_pairs) / len(both)) if both else None,
                verdict_kappa=cohen_kappa(ver_pairs),
            )
        )
    return out


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
        raise InputError(
            field,
            f"the {what} name {name!r} ends with {UNVERIFIED_SUFFIX!r}, "
            "which marks an unverified finding",
        )
    return name
