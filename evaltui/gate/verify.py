"""Verifying a decision record: the record against the store's kept copy and the event log,
then the decision recomputed from the store and the policy as of that decision, every field
that differs named (and a changed taxonomy said in words); and the record's signature.

No SQL here (but one read of the event log: was a kept decision exported signed?).
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from evaltui import signing
from evaltui.errors import InputError
from evaltui.gate import calibration, formats, production
from evaltui.gate.decide import evaluate
from evaltui.gate.diff import Difference, FieldPath, differences, dotted
from evaltui.gate.formats import Change
from evaltui.gate.history import kept, signed_when_kept
from evaltui.gate.policy import (
    load_policy,
)
from evaltui.gate.record import (
    SCHEMA,
    DecisionRecord,
    TaxonomyProvenance,
    content_hash,
)
from evaltui.review.taxonomy import Taxonomy
from evaltui.store.runs import run_by_sha256
from evaltui.store.store import Store

# Fields a recomputation may differ in without the decision having changed.
_VOLATILE: frozenset[FieldPath] = frozenset(
    {("content_hash",), ("provenance", "event_log_head"), ("provenance", "evaltui_version")}
)
# Said field by field before the rest (`verify`).
_SAID_APART = ("rules", "findings", "open_disagreements", "calibration", "production")


def _listed(differences: list[Difference], limit: int = 12) -> str:
    return ", ".join(str(d) for d in differences[:limit]) + (
        " …" if len(differences) > limit else ""
    )


def verify(
    store: Store,
    record: DecisionRecord | dict[str, Any],
    policy_path: Path | None = None,
    *,
    taxonomy: Taxonomy | None = None,
) -> list[str]:
    """Check a decision record against the store; the problems, in words (empty: it holds).

    The record must be one the store kept (a dry run's is refused), equal to the
    kept copy field by field, with the event log intact up to the head it names;
    then the decision is recomputed from the store and the policy as of that
    decision, and every field that now differs is named.
    """
    data = record.as_dict() if isinstance(record, DecisionRecord) else record
    problems = sealed_problems(data)
    if data.get("schema") != SCHEMA:
        return problems
    found = kept(store, data)
    if found is None:
        return [
            *problems,
            "this record is not kept in this store (a --no-record dry run, another "
            "store, or a forgery): there is nothing to verify it against",
        ]
    # The file against the copy kept: JSON data as each holds it (an earlier evaltui's
    # format, or a forgery that no model reads, is compared all the same).
    edited = list(differences(found.data, data))
    if edited:
        return [
            *problems,
            f"the record differs from decision {found.id} kept in the store, in {_listed(edited)}",
        ]
    prov = data["provenance"]
    for p in store.verify_chain(prov.get("event_log_head")):
        problems.append(f"the event log was tampered with: {p}")
    path = policy_path or Path(prov["policy"]["path"])
    if not path.exists():
        return [*problems, f"the policy file {path} is gone (give --policy)"]
    # a record an earlier evaltui made: recomputed with the settings in force then
    earlier = formats.predates(data)
    loaded = formats.as_then(load_policy(path), earlier)
    if loaded.sha256 != prov["policy"]["sha256"]:
        problems.append(
            f"the policy changed: sha256 {prov['policy']['sha256'][:12]} -> {loaded.sha256[:12]}"
        )
    ids: dict[str, int | None] = {}
    for role in ("baseline", "candidate", "fallback"):
        ref = prov.get(role)
        if ref is None:
            ids[role] = None
            continue
        known = run_by_sha256(store, ref["sha256"])
        if known is None:
            return [
                *problems,
                f"the {role} run {ref['name']} (sha256 {ref['sha256'][:12]}) is not in this store",
            ]
        ids[role] = known.id
    base_id, cand_id = ids["baseline"], ids["candidate"]
    assert base_id is not None and cand_id is not None
    now = evaluate(
        store,
        loaded,
        base_id,
        cand_id,
        ids["fallback"],
        decided_at=prov["decided_at"],
        decided_by=prov["decided_by"],
        taxonomy=taxonomy,
        as_of=found.id,
    )
    try:  # the fields evaltui did not write then cannot have changed: taken from now
        was = DecisionRecord.model_validate(
            formats.completed(data, now.as_dict()) if earlier else data, strict=True
        )
    except ValidationError as exc:
        return [*problems, f"the record does not read as a decision record: {_first(exc)}"]
    return problems + _changes(was, now, policy_moved=policy_path is not None, earlier=earlier)


def sealed_problems(data: dict[str, Any]) -> list[str]:
    """Is it an evaltui decision record, and does its content hash match its content?
    The problems, in words (empty: it is one, unedited since it was sealed). `verify`
    starts with it; a decision pulled from the team store is checked by it too."""
    if data.get("schema") != SCHEMA:
        return [f"not an evaltui decision record (schema {data.get('schema')!r})"]
    if content_hash(data) != data.get("content_hash"):
        return ["the record itself was edited: its content hash does not match"]
    return []


def _first(exc: ValidationError) -> str:
    err = exc.errors(include_url=False)[0]
    return f"{dotted(tuple(err['loc']))}: {err['msg']}"


def _changes(
    was: DecisionRecord, now: DecisionRecord, *, policy_moved: bool, earlier: list[Change]
) -> list[str]:
    """What differs between the recorded decision and the recomputed one, in words: the
    decision, the reference set, each rule, the findings, then every other leaf."""
    problems: list[str] = []
    explained: set[FieldPath] = set()
    if now.decision != was.decision:
        problems.append(f"the decision changed: {was.decision} -> {now.decision}")
        explained |= {("decision",), ("exit_code",), ("why",)}
    old_ref, new_ref = was.provenance, now.provenance
    if new_ref.reference_set_sha256 != old_ref.reference_set_sha256:
        old_n, new_n = old_ref.reference_set_cases, new_ref.reference_set_cases
        size = f"; {old_n} -> {new_n} cases" if old_n != new_n else ""
        problems.append(
            "the reference set changed: cases were retired, quarantined, restored or added "
            f"(sha256 {old_ref.reference_set_sha256[:12]} -> "
            f"{new_ref.reference_set_sha256[:12]}{size})"
        )
        explained |= {
            ("provenance", "reference_set_sha256"),
            ("provenance", "reference_set_cases"),
        }
    if new_ref.taxonomy.sha256 != old_ref.taxonomy.sha256:
        problems.append(_taxonomy_changed(old_ref.taxonomy, new_ref.taxonomy))
    # the same classes under another version number or source are the same taxonomy
    explained |= {("provenance", "taxonomy", k) for k in ("version", "sha256", "source")}
    old_rules = {r.id: r for r in was.rules}
    for r in now.rules:
        o = old_rules.get(r.id)
        if o is None:
            problems.append(f"rule {r.id} is new")
        elif o.value != r.value or o.passed != r.passed:
            problems.append(f"rule {r.id}: {o.value} -> {r.value} ({o.result} -> {r.result})")
    if now.findings != was.findings:
        problems.append(
            f"findings changed: {was.findings.triaged_cases} -> {now.findings.triaged_cases} "
            "triaged cases"
        )
    if now.open_disagreements != was.open_disagreements:
        problems.append("open disagreements changed")
    # the judgment set a decision used
    was_json, now_json = was.model_dump(mode="json"), now.model_dump(mode="json")
    problems += calibration.changes(was_json, now_json)
    problems += production.changes(was_json, now_json)  # the weights, estimates and margins (#28)
    skip = _VOLATILE | explained | {("provenance", "policy", "sha256")}
    if policy_moved:
        skip |= {("provenance", "policy", "path")}
    rest = [d for d in differences(was, now) if d.path not in skip and d.path[0] not in _SAID_APART]
    if rest:
        problems.append(f"also changed: {_listed(rest)}")
    if earlier and problems:  # evaltui's change, said apart from the data's
        problems.append(
            f"note: {formats.describe(earlier)}; a difference above may come from "
            "how evaltui computes now rather than from the data"
        )
    return problems


def _taxonomy_changed(was: TaxonomyProvenance, now: TaxonomyProvenance) -> str:
    """The taxonomy in force is not the one the decision was made with (#29): both named
    by version and sha256, and how to see what changed."""

    def name(t: TaxonomyProvenance) -> str:
        which = f"version {t.version}" if t.version is not None else t.source
        return f"{which} (sha256 {t.sha256[:12]})"

    see = (
        f"; `evaltui taxonomy diff {was.version} {now.version}` says what changed"
        if was.version is not None and now.version is not None and was.version != now.version
        else ""
    )
    return (
        f"the taxonomy changed: the decision was made with taxonomy {name(was)}, the one in "
        f"force now is {name(now)}{see}"
    )


# -- the record's signature (verify) ---------------------------------------------------------


def note_signed(
    store: Store, record: DecisionRecord, signature: Path, record_signature: str | None = None
) -> None:
    """Record that the kept decision `record` was exported signed, so that `verify` of a
    copy whose signature was removed says "not signed" (the event log keeps it), with
    `record_signature`: the same key's signature of the record as the store keeps it
    (its canonical JSON), which the team store carries with a shared decision."""
    found = kept(store, record.as_dict())
    if found is None:  # a dry run (--no-record): nothing kept to remember it by
        return
    digest = hashlib.sha256(signing.read_small(signature, "signature", 1 << 20)).hexdigest()
    with store.transaction():
        store.log_event(
            "decision.sign",
            "decision",
            found.id,
            after={"content_hash": record.content_hash, "signature_sha256": digest}
            | ({"record_signature": record_signature} if record_signature else {}),
        )


def check_signature(
    store: Store, record: dict[str, Any], path: Path, raw: bytes, signers: Path | None
) -> tuple[str | None, list[str]]:
    """(the verified signer, or None; problems) for the record file `path` whose bytes
    are `raw` (the very bytes verified). A record whose kept decision was exported
    signed must carry its signature: a removed one is "not signed", never "unchanged"."""
    sig = signing.signature_path(path)
    if not os.path.lexists(sig):
        found = kept(store, record)
        if found is not None and signed_when_kept(store, found.id):
            return None, [
                f"not signed: decision {found.id} was exported signed, and {sig.name} "
                "is not next to the record (removed?)"
            ]
        return None, []
    if signers is None:
        return None, ["it is signed, but no allowed-signers file was given to check it"]
    try:
        return signing.verify(path, signers, signing.DECISION, data=raw), []
    except InputError as exc:
        return None, [f"its signature does not verify: {exc.detail}"]
