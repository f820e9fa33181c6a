"""Findings files: reviewers working apart exchange their findings as JSONL (docs/triage.md).

Export writes every finding, one per line, in a stable order; import merges
another reviewer's file in one transaction, skipping findings already here.
"""

from __future__ import annotations

import json
import os
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from evaltui import signing
from evaltui.errors import InputError
from evaltui.files import atomic_writer
from evaltui.importers.base import bounded_lines, env_limit, validation_error
from evaltui.models import FindingVerdict
from evaltui.review import triage
from evaltui.review.taxonomy import Taxonomy
from evaltui.review.taxonomy import load as load_taxonomy
from evaltui.review.triage import COLS, Kind, _insert, _recompute, _where
from evaltui.store.store import Store
from evaltui.textsafe import safe_json

SIGNERS_SETTING = "findings.allowed_signers"


class _FileRun(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str
    sha256: str


class _Step(BaseModel):
    """The tool call of the agent's path a finding points at."""

    model_config = ConfigDict(extra="forbid")

    run: Literal["baseline", "candidate", "fallback"]
    index: int = Field(ge=0, le=1_000_000)
    tool: str | None = Field(default=None, max_length=200)
    call_id: str | None = Field(default=None, max_length=200)
    turn: int | None = Field(default=None, ge=0, le=1_000_000)


class FindingLine(BaseModel):
    """One line of a findings file (docs/triage.md)."""

    model_config = ConfigDict(extra="forbid")

    uid: str = Field(min_length=8, max_length=64)
    baseline: _FileRun
    candidate: _FileRun
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
    step: _Step | None = None  # the path step it points at (agent runs)


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
    where, params = _where({"f.baseline_run": base, "f.candidate_run": cand})
    rows = store.conn.execute(
        "SELECT f.uid, b.name, b.sha256, c.name, c.sha256, k.suite, k.case_key, f.kind, f.reviewer, "
        "f.at, f.class, f.class_name, f.owner, f.verdict, f.note, f.undoes, f.step "
        "FROM findings f JOIN runs b ON b.id = f.baseline_run JOIN runs c ON c.id = f.candidate_run "
        f"JOIN cases k ON k.id = f.case_id WHERE {where} "
        "ORDER BY b.sha256, c.sha256, k.suite, k.case_key, f.at, f.uid",
        params,
    ).fetchall()
    with atomic_writer(path) as fh:  # never a half-written file, no planted link followed
        for r in rows:
            obj = {
                "uid": r[0], "baseline": {"name": r[1], "sha256": r[2]},
                "candidate": {"name": r[3], "sha256": r[4]}, "suite": r[5], "case_key": r[6],
                "kind": r[7], "reviewer": r[8], "at": r[9], "class": r[10], "class_name": r[11],
                "owner": r[12], "verdict": r[13], "note": r[14], "undoes": r[15],
            }  # fmt: skip
            if r[16]:  # written only when set: files without steps stay as they were
                obj["step"] = json.loads(r[16])
            # C1 controls, bidi and zero-width characters as \uXXXX (C0 too, as JSON does):
            # the file is exact once parsed and inert when printed (docs/security.md)
            fh.write(safe_json(obj, indent=None, sort_keys=True) + "\n")
    if sign_key is not None:
        signing.sign(path, sign_key, signing.FINDINGS)
    return len(rows)


def _run_id(store: Store, ref: _FileRun, path: Path, location: str, field: str) -> int:
    row = store.conn.execute(
        "SELECT id FROM runs WHERE sha256 = ? ORDER BY id LIMIT 1", (ref.sha256,)
    ).fetchone() if ref.sha256 else None  # fmt: skip
    if row is None:
        row = store.conn.execute(
            "SELECT id FROM runs WHERE name = ? ORDER BY id DESC", (ref.name,)
        ).fetchone()
    if row is None:
        raise InputError(
            str(path), f"run {ref.name!r} (sha256 {ref.sha256[:12]}) is not in this store; import it first",
            location=location, field=field,
        )  # fmt: skip
    return int(row[0])


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
            str(path), f"the time {at!r} is outside the dates evaltui can order",
            location=location, field="at",
        ) from None  # fmt: skip
    skew = env_limit("EVALTUI_MAX_CLOCK_SKEW", MAX_CLOCK_SKEW_S)
    ahead = (utc - now).total_seconds()
    if ahead > skew:
        raise InputError(
            str(path), f"the time {at!r} is {_span(ahead)} ahead of this clock (more than the "
            f"{_span(skew)} skew allowed, EVALTUI_MAX_CLOCK_SKEW): a finding cannot be dated "
            "in the future", location=location, field="at",
        )  # fmt: skip
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


def import_file(
    store: Store,
    path: Path,
    *,
    taxonomy: Taxonomy | None = None,
    allowed_signers: Path | None = None,
) -> dict[str, Any]:
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
            out = _merge(store, path, data, tax, principal)
            store.log_event(
                "findings.import", "file", str(path.resolve()),
                after={"added": out["added"], "skipped": out["skipped"], "cases": out["cases"]},
                context={"states": out.pop("states"), "sha256": digest, "signer": principal,
                         "signature": signature,
                         "uncounted_adjudications": out["uncounted_adjudications"]},
            )  # fmt: skip
    return {**out, "signer": principal, "signature": signature, "sha256": digest}


def _merge(
    store: Store, path: Path, data: IO[bytes], tax: Taxonomy, principal: str | None
) -> dict[str, Any]:
    """Insert every new line of `data` and recompute the touched cases (in the caller's
    transaction)."""
    listed = triage.adjudicators(store)
    now = datetime.now(UTC)
    added = skipped = 0
    uncounted: list[str] = []
    touched: set[tuple[int, int, int]] = set()
    for number, raw in bounded_lines(data, path):
        if not raw.strip():
            continue
        location = f"line {number}"
        try:
            line = FindingLine.model_validate_json(raw)
        except ValidationError as exc:
            raise validation_error(path, exc, location) from None
        if store.conn.execute("SELECT 1 FROM findings WHERE uid = ?", (line.uid,)).fetchone():
            skipped += 1
            continue
        try:
            triage.check_name(line.reviewer, "reviewer")
        except InputError as exc:
            raise InputError(str(path), exc.detail, location=location, field="reviewer") from None
        if line.class_ is not None and line.class_ not in tax.by_key:
            raise InputError(
                str(path), f"unknown failure class {line.class_!r} (taxonomy: {tax.source})",
                location=location, field="class",
            )  # fmt: skip
        at = _when(line.at, path, location, now)
        signer = principal if principal == line.reviewer else None
        who = line.reviewer if signer else f"{line.reviewer}{triage.UNVERIFIED_SUFFIX}"
        if line.kind == "undo" and line.undoes:
            target = store.conn.execute(
                f"SELECT {COLS} FROM findings WHERE uid = ?", (line.undoes,)
            ).fetchone()
            if target is not None and triage.Finding.from_row(target).identity != who:
                raise InputError(
                    str(path),
                    "a finding can be retracted only by the reviewer who made it "
                    f"({triage.Finding.from_row(target).identity} made it; this line is {who})",
                    location=location, field="undoes",
                )  # fmt: skip
        if line.kind == "adjudication" and (signer is None or (listed and signer not in listed)):
            why = "unverified" if signer is None else "not a listed adjudicator here"
            uncounted.append(f"{location}: {who} ({why})")
        base = _run_id(store, line.baseline, path, location, "baseline")
        cand = _run_id(store, line.candidate, path, location, "candidate")
        case = store.conn.execute(
            "SELECT id FROM cases WHERE suite = ? AND case_key = ?",
            (line.suite, line.case_key),
        ).fetchone()
        if case is None:
            raise InputError(
                str(path), f"case {line.suite}/{line.case_key} is not in this store",
                location=location, field="case_key",
            )  # fmt: skip
        _insert(
            store,
            {"uid": line.uid, "baseline_run": base, "candidate_run": cand, "case_id": case[0],
             "kind": line.kind, "class": line.class_, "class_name": line.class_name,
             "owner": line.owner, "verdict": line.verdict, "note": line.note,
             "step": json.dumps(line.step.model_dump(), sort_keys=True) if line.step else None,
             "reviewer": line.reviewer, "at": at, "undoes": line.undoes,
             "source": f"import:{path.name}", "signer": signer},
        )  # fmt: skip
        touched.add((base, cand, case[0]))
        added += 1
    states: Counter[str] = Counter()
    for base, cand, case_id in sorted(touched):
        eff = _recompute(store, base, cand, case_id)
        if eff:
            states[eff["state"]] += 1
    return {"added": added, "skipped": skipped, "cases": len(touched),
            "disagreements": states.get("disagreement", 0), "states": dict(states),
            "uncounted_adjudications": len(uncounted), "uncounted": uncounted[:10]}  # fmt: skip
