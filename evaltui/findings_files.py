"""Findings files: reviewers working apart exchange their findings as JSONL (docs/triage.md).

Export writes every finding, one per line, in a stable order; import merges
another reviewer's file in one transaction, skipping findings already here.
"""

from __future__ import annotations

import json
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from evaltui import signing, triage
from evaltui.errors import InputError
from evaltui.files import atomic_writer
from evaltui.importers.base import bounded_lines, sha256_file
from evaltui.models import FindingVerdict
from evaltui.store.store import Store
from evaltui.taxonomy import Taxonomy
from evaltui.taxonomy import load as load_taxonomy
from evaltui.triage import COLS, Kind, _insert, _recompute, _where

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
            fh.write(json.dumps(obj, sort_keys=True, ensure_ascii=False) + "\n")
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


def _when(at: str, path: Path, location: str) -> str:
    """A reviewer's clock reading as UTC ISO 8601 (findings are ordered by it)."""
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
    return t.astimezone(UTC).isoformat(timespec="microseconds")


def import_file(
    store: Store,
    path: Path,
    *,
    taxonomy: Taxonomy | None = None,
    allowed_signers: Path | None = None,
) -> dict[str, Any]:
    """Merge another reviewer's findings file: one transaction; known uids are skipped.

    Without a signature verified against `allowed_signers`, every finding is kept
    as unverified: it is its own opinion ("NAME (unverified)"), never NAME's, so it
    cannot replace, retract or adjudicate anyone's finding. A signed file speaks only
    for its signer: lines naming another reviewer stay unverified. Refused, with the
    line and field, and nothing written: a class outside the taxonomy, a time with
    no zone, a retraction of another reviewer's finding, an unverified adjudication,
    or an adjudication by someone the store does not list.
    """
    if not path.exists():
        raise InputError(str(path), "no such file")
    tax = taxonomy if taxonomy is not None else load_taxonomy(store)
    signers = signers_file(store, allowed_signers)
    principal = signing.verify(path, signers, signing.FINDINGS) if signers else None
    listed = triage.adjudicators(store)
    added = skipped = 0
    touched: set[tuple[int, int, int]] = set()
    with store.transaction():
        with path.open("rb") as fh:
            for number, raw in bounded_lines(fh, path):
                if not raw.strip():
                    continue
                location = f"line {number}"
                try:
                    line = FindingLine.model_validate_json(raw)
                except ValidationError as exc:
                    from evaltui.importers.base import validation_error

                    raise validation_error(path, exc, location) from None
                if store.conn.execute(
                    "SELECT 1 FROM findings WHERE uid = ?", (line.uid,)
                ).fetchone():
                    skipped += 1
                    continue
                if line.class_ is not None and line.class_ not in tax.by_key:
                    raise InputError(
                        str(path), f"unknown failure class {line.class_!r} (taxonomy: {tax.source})",
                        location=location, field="class",
                    )  # fmt: skip
                at = _when(line.at, path, location)
                signer = principal if principal == line.reviewer else None
                who = line.reviewer if signer else f"{line.reviewer} (unverified)"
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
                if line.kind == "adjudication" and (
                    signer is None or (listed and signer not in listed)
                ):
                    raise InputError(
                        str(path),
                        f"an adjudication from a file counts only when signed by a listed adjudicator "
                        f"(this line is {who}; adjudicators: {', '.join(listed) or 'any signed reviewer'})",
                        location=location, field="kind",
                    )  # fmt: skip
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
        store.log_event(
            "findings.import", "file", str(path.resolve()),
            after={"added": added, "skipped": skipped, "cases": len(touched)},
            context={"states": dict(states), "sha256": sha256_file(path), "signer": principal,
                     "signature": "verified" if principal else "none (findings kept unverified)"},
        )  # fmt: skip
    return {"added": added, "skipped": skipped, "cases": len(touched),
            "disagreements": states.get("disagreement", 0), "signer": principal}  # fmt: skip
