"""`evaltui gate --what-if` (#28): the decision under a policy edit or hypothetical labels,
against the decision as it stands, without recording anything.

Both decisions are measured on a scratch copy of the store (`scratch`: SQLite's backup,
in a private temporary folder, deleted after), so the store itself is never written: not
a decision, not an event, not a triage state refolded. The
edits: another policy file, `--set RULE.KEY=VALUE` (or `KEY=VALUE`, `production.KEY=VALUE`,
`calibration.KEY=VALUE`; an empty VALUE removes the key), and `--assume CASE=LABEL`
(labels: a verdict and/or a failure class, comma-separated; CASE `untriaged` is every
untriaged regression).
"""

from __future__ import annotations

import hashlib
import tempfile
import tomllib
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from evaltui.compare import Comparison
from evaltui.compare.measures import fmt_threshold, fmt_value
from evaltui.errors import InputError
from evaltui.files import read_toml
from evaltui.gate.diff import dotted
from evaltui.gate.lock import OPEN
from evaltui.gate.policy import LoadedPolicy, Policy, check_rules, suggest
from evaltui.gate.record import DecisionRecord, RuleResult
from evaltui.models import FINDING_VERDICTS
from evaltui.review import triage
from evaltui.review.taxonomy import FailureClass, Taxonomy
from evaltui.store.runs import resolve_case
from evaltui.store.store import Store

TABLES = ("production", "calibration")  # policy tables `--set TABLE.KEY=VALUE` reaches


@contextmanager
def scratch(path: Path) -> Iterator[Path]:
    """A copy of the store at `path` (SQLite's online backup, through the connection every
    reading command opens) in a private temporary folder, deleted afterwards."""
    with tempfile.TemporaryDirectory(prefix="evaltui-what-if-") as tmp:
        copy = Path(tmp) / "store.db"
        with Store(path, create=False) as src:
            src.copy_to(copy)
        yield copy


# -- a policy edit ------------------------------------------------------------------------------


def _value(text: str) -> Any:
    """A TOML value (`0.8`, `"hold"`, `["a", "b"]`, `{ risk = "high" }`), else the text."""
    try:
        return tomllib.loads(f"v = {text}")["v"]
    except tomllib.TOMLDecodeError:
        return text


def edited(loaded: LoadedPolicy, sets: Sequence[str]) -> LoadedPolicy:
    """`loaded` with each `--set` applied to its TOML data, checked as a policy file is
    (an error names the edit); the policy's path stays (its relative files resolve)."""
    if not sets:
        return loaded
    data, text, raw = read_toml(loaded.path, "policy")
    ids = [str(r.get("id")) for r in data.get("rule", []) if isinstance(r, dict)]
    for edit in sets:
        key, eq, value = edit.partition("=")
        head, dot, rest = key.strip().partition(".")
        if not eq or not head or (dot and not rest):
            raise InputError("--set", f"{edit!r} is not KEY=VALUE (RULE.KEY=VALUE for a rule)")
        if dot and head in ids:
            target = data["rule"][ids.index(head)]
        elif dot and head in TABLES:
            target = data.setdefault(head, {})
        elif dot:
            raise InputError(
                "--set",
                f"no rule {head!r} in {loaded.path.name}" + suggest(head, ids, "the rules:"),
                field=key,
            )
        else:
            target, rest = data, head
        if value.strip():
            target[rest] = _value(value.strip())
        else:
            target.pop(rest, None)
    try:
        policy = Policy.model_validate(data)
    except ValidationError as exc:
        err = exc.errors(include_url=False)[0]
        msg = err["msg"].removeprefix("Value error, ")
        raise InputError("--set " + " ".join(sets), msg, field=dotted(tuple(err["loc"]))) from None
    check_rules(policy, "--set " + " ".join(sets))
    digest = hashlib.sha256(raw + "\0".join(sets).encode()).hexdigest()
    return LoadedPolicy(policy, loaded.path, digest, text, loaded.rule_lines)


# -- hypothetical labels ------------------------------------------------------------------------


def assume(
    store: Store, runs: tuple[int, int, int | None], assumptions: Sequence[str], tax: Taxonomy
) -> int:
    """Label cases of the (scratch) store as `--assume CASE=LABEL` says; the cases labelled."""
    b, c, _ = runs
    done = 0
    for text in assumptions:
        case, eq, labels = text.partition("=")
        if not eq or not case.strip() or not labels.strip():
            raise InputError("--assume", f"{text!r} is not CASE=LABEL (a verdict or a class)")
        cls: FailureClass | None = None
        verdict: str | None = None
        for token in (t.strip() for t in labels.split(",")):
            if token in FINDING_VERDICTS:
                verdict = token
            else:
                try:
                    cls = tax.resolve(token)
                except InputError:
                    raise InputError(
                        "--assume",
                        f"{token!r} is neither a verdict "
                        f"({', '.join(FINDING_VERDICTS)}) nor a failure class"
                        + suggest(token, [k.key for k in tax.active]),
                        field=case.strip(),
                    ) from None
        kwargs: dict[str, Any] = {"verdict": verdict} if verdict else {}
        if cls is not None:
            kwargs["failure_class"] = cls
        if case.strip() == "untriaged":
            with Comparison(store.path, b, c) as cmp:
                ids = [r[0] for r in cmp.rows_where("t.case_id", OPEN)]
        else:
            ids = [resolve_case(store, case.strip())]
        for case_id in ids:
            triage.label(store, b, c, case_id, **kwargs)
        done += len(ids)
    return done


# -- the difference -----------------------------------------------------------------------------


def _rule(r: RuleResult | None) -> dict[str, Any] | None:
    if r is None:
        return None
    return {
        "value": r.value,
        "shown": fmt_value(r.value, r.metric),
        "result": r.result,
        "passed": r.passed,
        "triggers": r.triggers,
        "threshold": r.threshold,
    }


@dataclass(frozen=True)
class WhatIf:
    before: DecisionRecord
    after: DecisionRecord
    edits: tuple[str, ...]

    def rule_changes(self) -> list[dict[str, Any]]:
        """Each rule whose value, threshold, result or action differs (or that is new, or
        gone), in the policy's order."""
        old = {r.id: r for r in self.before.rules}
        new = {r.id: r for r in self.after.rules}
        out = []
        for rid in dict.fromkeys([*new, *old]):
            a, b = _rule(old.get(rid)), _rule(new.get(rid))
            if a != b:
                metric = (new.get(rid) or old[rid]).metric
                out.append({"id": rid, "metric": metric, "before": a, "after": b})
        return out

    def as_dict(self) -> dict[str, Any]:
        return {
            "edits": list(self.edits),
            "decision": {"before": self.before.decision, "after": self.after.decision},
            "changed": self.before.decision != self.after.decision,
            "why": {"before": self.before.why, "after": self.after.why},
            "rules": self.rule_changes(),
            "recorded": False,
        }

    def lines(self) -> list[str]:
        a, b = self.before.decision, self.after.decision
        out = [
            f"what if: {'; '.join(self.edits)}",
            f"decision: {a} -> {b}" if a != b else f"decision: {a} (unchanged)",
        ]
        for ch in self.rule_changes():
            was, now = ch["before"], ch["after"]
            if was is None or now is None:
                out.append(f"  rule {ch['id']}: " + ("new" if was is None else "gone"))
                continue
            rid, metric = ch["id"], ch["metric"]
            limit = fmt_threshold(now["threshold"], metric)
            if was["threshold"] != now["threshold"]:
                limit = f"{fmt_threshold(was['threshold'], metric)} -> {limit}"
            out.append(
                f"  rule {rid}: {was['shown']} -> {now['shown']}, must be {limit} "
                f"({was['result']} -> {now['result']}; triggers {now['triggers']})"
            )
        if len(out) == 2:
            out.append("  no rule changes")
        out.append("nothing recorded (measured on a scratch copy of the store)")
        return out
