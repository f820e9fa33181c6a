"""Findings files: reviewers working apart exchange their findings as JSONL (docs/triage.md).

Export writes every finding, one per line, in a stable order; import merges
another reviewer's file in one transaction, skipping findings already here.
"""

from __future__ import annotations

import os
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import IO

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from evaltui import signing
from evaltui.errors import InputError
from evaltui.files import atomic_writer
from evaltui.importers.base import bounded_lines, env_limit, validation_error
from evaltui.models import FindingVerdict, StepRef
from evaltui.review import triage
from evaltui.review.taxonomy import Taxonomy
from evaltui.review.taxonomy import load as load_taxonomy
from evaltui.review.triage import Draft, Kind, NamedFinding, Opinion, RunName
from evaltui.store.runs import case_by_key, run_by_name, run_by_sha256
from evaltui.store.store import Store
from evaltui.textsafe import safe_json

SIGNERS_SETTING = "findings.allowed_signers"


class FindingLine(BaseModel):
    """One line of a findings file (docs/triage.md): what `import_file` reads and what
    `export` writes."""

    model_config = ConfigDict(extra="forbid")

    uid: str = Field(min_length=8, max_length=64)
    baseline: RunName
    candidate: RunName
    suite: str
    case_key: str
    kind: Kind
    reviewer: str = Field(min_length=1)
    at: str
    class_: str | None = Field(default=None, alias="class")
    class_name: str | None = None
    owner: str | None = None
    verdict: FindingVerdict | None = None
    note: str | None = None
    undoes: str | None = None
    step: StepRef | None = None  # the path step it points at (agent runs)

    @classmethod
    def of(cls, named: NamedFinding) -> FindingLine:
        """The line of a finding this store holds, as the store holds it (not checked
        again: what the store took is what the file says)."""
        f = named.finding
        return cls.model_construct(
            uid=f.uid,
            baseline=named.baseline,
            candidate=named.candidate,
            suite=named.suite,
            case_key=named.case_key,
            kind=f.kind,
            reviewer=f.reviewer,
            at=f.at,
            class_=f.class_key,
            class_name=f.class_name,
            owner=f.owner,
            verdict=f.verdict,
            note=f.note,
            undoes=f.undoes,
            step=f.step,
        )

    def text(self) -> str:
        """The line as written: keys sorted, `step` only when set (files without steps
        stay as they were), and C1 controls, bidi and zero-width characters as \\uXXXX
        (C0 too, as JSON does): exact once parsed and inert when printed (docs/security.md)."""
        obj = self.model_dump(
            by_alias=True, exclude={"step"} if self.step is None else None, warnings=False
        )
        return safe_json(obj, indent=None, sort_keys=True)

    def opinion(self) -> Opinion:
        return Opinion(self.class_, self.class_name, self.owner, self.verdict, self.note, self.step)


def export(
    store: Store,
    path: Path,
    *,
    base: int | None = None,
    cand: int | None = None,
    sign_key: Path | None = None,
) -> int:
    """Write every finding, one JSON object per line, in a stable order; returns the count.
    With `sign_key`, also a detached SSH signature (FILE.sig, namespace evaltui-findings)."""
    n = 0
    with atomic_writer(path) as fh:  # never a half-written file, no planted link followed
        for named in triage.in_file_order(store, base=base, cand=cand):
            fh.write(FindingLine.of(named).text() + "\n")
            n += 1
    if sign_key is not None:
        signing.sign(path, sign_key, signing.FINDINGS)
    return n


def _run_id(store: Store, ref: RunName, path: Path, location: str, field: str) -> int:
    """The run a line names: the first import of its sha256, else the newest of its name."""
    found = run_by_sha256(store, ref.sha256) if ref.sha256 else None
    run = found.id if found else run_by_name(store, ref.name)
    if run is None:
        raise InputError(
            str(path),
            f"run {ref.name!r} (sha256 {ref.sha256[:12]}) is not in this store; import it first",
            location=location,
            field=field,
        )
    return run


def signers_file(store: Store, given: Path | None) -> Path | None:
    """The allowed-signers file signatures are checked against: the one given (an option,
    or the policy's), else the store's (`evaltui findings signers FILE`), else none."""
    if given is not None:
        return given
    saved = store.get_setting(SIGNERS_SETTING)
    return Path(saved) if saved else None


MAX_FINDINGS_BYTES = 256 << 20  # a findings file (EVALTUI_MAX_FINDINGS_BYTES)
MAX_CLOCK_SKEW_S = (
    600  # how far a finding's time may be ahead of this clock (EVALTUI_MAX_CLOCK_SKEW)
)


def _when(at: str, path: Path, location: str, now: datetime) -> str:
    """A reviewer's clock reading as UTC ISO 8601 (findings are ordered by it). A time
    further in the future than the allowed clock skew is refused: it would outrank
    every finding made before it for years."""
    try:
        t = datetime.fromisoformat(at)
    except ValueError:
        raise InputError(
            str(path), f"not an ISO 8601 time: {at!r}", location=location, field="at"
        ) from None
    if t.tzinfo is None:
        raise InputError(
            str(path), f"the time {at!r} has no time zone", location=location, field="at"
        )
    try:
        utc = t.astimezone(UTC)
    except OverflowError:
        raise InputError(
            str(path),
            f"the time {at!r} is outside the dates evaltui can order",
            location=location,
            field="at",
        ) from None
    skew = env_limit("EVALTUI_MAX_CLOCK_SKEW", MAX_CLOCK_SKEW_S)
    ahead = (utc - now).total_seconds()
    if ahead > skew:
        raise InputError(
            str(path),
            f"the time {at!r} is {_span(ahead)} ahead of this clock (more than the "
            f"{_span(skew)} skew allowed, EVALTUI_MAX_CLOCK_SKEW): a finding cannot be dated "
            "in the future",
            location=location,
            field="at",
        )
    return utc.isoformat(timespec="microseconds")


def _span(seconds: float) -> str:
    if seconds < 120:
        return f"{seconds:.0f} seconds"
    if seconds < 7200:
        return f"{seconds / 60:.0f} minutes"
    if seconds < 172800:
        return f"{seconds / 3600:.0f} hours"
    return f"{seconds / 86400:,.0f} days"


def _signature_state(path: Path, signers: Path | None, principal: str | None) -> str:
    """What the import says about the file's signature (and records in the event log)."""
    if principal:
        return "verified"
    if signers is None and os.path.lexists(signing.signature_path(path)):
        return "signed, but not verified here: no allowed-signers file (findings kept unverified)"
    return "none (findings kept unverified)"


class Imported(BaseModel):
    """What `import_file` did (`evaltui findings import` says it)."""

    model_config = ConfigDict(frozen=True)

    added: int
    skipped: int  # already here (by uid)
    cases: int  # cases touched
    disagreements: int  # of those, in disagreement now
    uncounted_adjudications: int  # kept, not counted here: unverified, or by one not listed
    uncounted: list[str]  # the first ten: "line N: NAME (why)"
    signer: str | None  # the verified signer of the file
    signature: str  # what the import says about it (and records in the event log)
    sha256: str  # of the bytes imported


@dataclass
class _Merged:
    added: int = 0
    skipped: int = 0
    states: Counter[str] = field(default_factory=Counter)  # the touched cases' states
    cases: int = 0
    uncounted: list[str] = field(default_factory=list)


def import_file(
    store: Store,
    path: Path,
    *,
    taxonomy: Taxonomy | None = None,
    allowed_signers: Path | None = None,
) -> Imported:
    """Merge another reviewer's findings file: one transaction; known uids are skipped.

    The file is read once (a regular file, bounded): the signature is verified over
    those bytes and those same bytes are imported. Without a signature verified
    against `allowed_signers`, every finding is kept as unverified: it is its own
    opinion ("NAME (unverified)"), never NAME's, and never decides a case's state
    (triage_state.effective). A signed file speaks only for its signer: lines naming
    another reviewer stay unverified. An adjudication that does not count here
    (unverified, or by someone this store does not list) is kept and counted in
    `uncounted_adjudications`: this store's state then differs from a store that
    counts it. Refused, with the line and field, and nothing written: a class outside
    the taxonomy, a time with no zone or ahead of this clock, a blank reviewer, a
    retraction of another reviewer's finding.
    """
    tax = taxonomy if taxonomy is not None else load_taxonomy(store)
    signers = signers_file(store, allowed_signers)
    limit = env_limit("EVALTUI_MAX_FINDINGS_BYTES", MAX_FINDINGS_BYTES)
    data, digest = signing.snapshot(path, "findings file", limit, "EVALTUI_MAX_FINDINGS_BYTES")
    with data:
        principal = signing.verify(path, signers, signing.FINDINGS, data=data) if signers else None
        signature = _signature_state(path, signers, principal)
        data.seek(0)
        with store.transaction():  # the findings and the event commit together, or nothing
            triage.refold(store, in_transaction=True)
            m = _merge(store, path, data, tax, principal)
            store.log_event(
                "findings.import",
                "file",
                str(path.resolve()),
                after={"added": m.added, "skipped": m.skipped, "cases": m.cases},
                context={
                    "states": dict(m.states),
                    "sha256": digest,
                    "signer": principal,
                    "signature": signature,
                    "uncounted_adjudications": len(m.uncounted),
                },
            )
    return Imported(
        added=m.added,
        skipped=m.skipped,
        cases=m.cases,
        disagreements=m.states.get("disagreement", 0),
        uncounted_adjudications=len(m.uncounted),
        uncounted=m.uncounted[:10],
        signer=principal,
        signature=signature,
        sha256=digest,
    )


def _merge(
    store: Store, path: Path, data: IO[bytes], tax: Taxonomy, principal: str | None
) -> _Merged:
    """Insert every new line of `data` and recompute the touched cases (in the caller's
    transaction)."""
    listed = triage.adjudicators(store)
    now = datetime.now(UTC)
    out = _Merged()
    touched: set[tuple[int, int, int]] = set()
    for number, raw in bounded_lines(data, path):
        if not raw.strip():
            continue
        location = f"line {number}"
        try:
            line = FindingLine.model_validate_json(raw)
        except ValidationError as exc:
            raise validation_error(path, exc, location) from None
        if triage.by_uid(store, line.uid) is not None:
            out.skipped += 1
            continue
        try:
            triage.check_name(line.reviewer, "reviewer")
        except InputError as exc:
            raise InputError(str(path), exc.detail, location=location, field="reviewer") from None
        if line.class_ is not None and line.class_ not in tax.by_key:
            raise InputError(
                str(path),
                f"unknown failure class {line.class_!r} (taxonomy: {tax.source})",
                location=location,
                field="class",
            )
        at = _when(line.at, path, location, now)
        signer = principal if principal == line.reviewer else None
        who = line.reviewer if signer else f"{line.reviewer}{triage.UNVERIFIED_SUFFIX}"
        if line.kind == "undo" and line.undoes:
            target = triage.by_uid(store, line.undoes)
            if target is not None and target.identity != who:
                raise InputError(
                    str(path),
                    "a finding can be retracted only by the reviewer who made it "
                    f"({target.identity} made it; this line is {who})",
                    location=location,
                    field="undoes",
                )
        if line.kind == "adjudication" and (signer is None or (listed and signer not in listed)):
            why = "unverified" if signer is None else "not a listed adjudicator here"
            out.uncounted.append(f"{location}: {who} ({why})")
        base = _run_id(store, line.baseline, path, location, "baseline")
        cand = _run_id(store, line.candidate, path, location, "candidate")
        case = case_by_key(store, line.suite, line.case_key)
        if case is None:
            raise InputError(
                str(path),
                f"case {line.suite}/{line.case_key} is not in this store",
                location=location,
                field="case_key",
            )
        triage.append(
            store,
            Draft(
                line.uid,
                base,
                cand,
                case,
                line.kind,
                line.opinion(),
                line.reviewer,
                at,
                line.undoes,
                f"import:{path.name}",
                signer,
            ),
        )
        touched.add((base, cand, case))
        out.added += 1
    for base, cand, case_id in sorted(touched):
        eff = triage.recompute(store, base, cand, case_id)
        if eff:
            out.states[eff.state] += 1
    out.cases = len(touched)
    return out
